--
-- PostgreSQL database dump
--

\restrict mmqbkUlgZbOC173hcVA11ZXW6a0RM1hBnFs1TgMVOYrLiIqxjhrVLhceU3BwTao

-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: collector_meta; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.collector_meta (
    key character varying(64) NOT NULL,
    value character varying(256) NOT NULL
);


--
-- Name: consents; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.consents (
    id integer NOT NULL,
    account character varying(16) NOT NULL,
    channel character varying(8) NOT NULL,
    granted boolean NOT NULL,
    at character varying(32) NOT NULL,
    source character varying(128) NOT NULL
);


--
-- Name: consents_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.consents_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: consents_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.consents_id_seq OWNED BY public.consents.id;


--
-- Name: customer_keys; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.customer_keys (
    account character varying(16) NOT NULL,
    wrapped bytea NOT NULL,
    created_at character varying(32) NOT NULL
);


--
-- Name: customers; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.customers (
    account character varying(16) NOT NULL,
    sealed bytea NOT NULL,
    source character varying(128) NOT NULL,
    created_at character varying(32) NOT NULL,
    updated_at character varying(32) NOT NULL
);


--
-- Name: dead_letters; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.dead_letters (
    id integer NOT NULL,
    topic character varying(256) NOT NULL,
    payload bytea NOT NULL,
    size integer NOT NULL,
    reason text NOT NULL,
    received_at character varying(32) NOT NULL
);


--
-- Name: dead_letters_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.dead_letters_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: dead_letters_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.dead_letters_id_seq OWNED BY public.dead_letters.id;


--
-- Name: devices; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.devices (
    id character varying(32) NOT NULL,
    store character varying(32) NOT NULL,
    region character varying(64) NOT NULL,
    public_key text,
    first_seen character varying(32) NOT NULL,
    last_seen character varying(32) NOT NULL,
    version character varying(64) NOT NULL,
    state character varying(16) NOT NULL,
    last_seq bigint NOT NULL,
    last_hash character varying(64) NOT NULL,
    outbox_depth integer,
    printer character varying(64),
    telemetry json
);


--
-- Name: events; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.events (
    id integer NOT NULL,
    device character varying(32) NOT NULL,
    kind character varying(64) NOT NULL,
    ts character varying(32) NOT NULL,
    detail json NOT NULL,
    received_at character varying(32) NOT NULL
);


--
-- Name: events_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.events_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: events_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.events_id_seq OWNED BY public.events.id;


--
-- Name: loyalty_accounts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.loyalty_accounts (
    account character varying(16) NOT NULL,
    balance bigint NOT NULL,
    overdrawn bigint NOT NULL,
    issue integer NOT NULL,
    next_expiry character varying(32),
    updated_at character varying(32) NOT NULL
);


--
-- Name: loyalty_allocations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.loyalty_allocations (
    id bigint NOT NULL,
    entry bigint NOT NULL,
    lot bigint NOT NULL,
    points bigint NOT NULL
);


--
-- Name: loyalty_allocations_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.loyalty_allocations_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: loyalty_allocations_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.loyalty_allocations_id_seq OWNED BY public.loyalty_allocations.id;


--
-- Name: loyalty_cards; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.loyalty_cards (
    account character varying(16) NOT NULL,
    issue integer NOT NULL,
    code character varying(13) NOT NULL,
    issued_at character varying(32) NOT NULL,
    blocked_at character varying(32)
);


--
-- Name: loyalty_channels; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.loyalty_channels (
    name character varying(32) NOT NULL,
    key_hash character varying(64) NOT NULL,
    created_at character varying(32) NOT NULL,
    revoked_at character varying(32)
);


--
-- Name: loyalty_entries; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.loyalty_entries (
    id bigint NOT NULL,
    key character varying(200) NOT NULL,
    account character varying(16) NOT NULL,
    kind character varying(16) NOT NULL,
    points bigint NOT NULL,
    balance bigint NOT NULL,
    spend bigint NOT NULL,
    at character varying(32) NOT NULL,
    source character varying(128) NOT NULL,
    detail json NOT NULL
);


--
-- Name: loyalty_entries_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.loyalty_entries_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: loyalty_entries_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.loyalty_entries_id_seq OWNED BY public.loyalty_entries.id;


--
-- Name: loyalty_lots; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.loyalty_lots (
    id bigint NOT NULL,
    entry bigint NOT NULL,
    account character varying(16) NOT NULL,
    points bigint NOT NULL,
    remaining bigint NOT NULL,
    earned_at character varying(32) NOT NULL,
    expires_at character varying(32),
    source character varying(128) NOT NULL
);


--
-- Name: loyalty_lots_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.loyalty_lots_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: loyalty_lots_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.loyalty_lots_id_seq OWNED BY public.loyalty_lots.id;


--
-- Name: loyalty_reservations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.loyalty_reservations (
    id character varying(32) NOT NULL,
    key character varying(200) NOT NULL,
    account character varying(16) NOT NULL,
    points bigint NOT NULL,
    device character varying(64) NOT NULL,
    sale_id character varying(64),
    state character varying(12) NOT NULL,
    created_at character varying(32) NOT NULL,
    expires_at character varying(32) NOT NULL,
    entry bigint
);


--
-- Name: sale_lines; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.sale_lines (
    id integer NOT NULL,
    sale integer NOT NULL,
    line_no integer NOT NULL,
    sku character varying(64) NOT NULL,
    name character varying(256) NOT NULL,
    qty integer NOT NULL,
    unit_price bigint NOT NULL,
    discount bigint NOT NULL,
    total bigint NOT NULL,
    tax_rate character varying(16) NOT NULL
);


--
-- Name: sale_lines_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.sale_lines_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: sale_lines_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.sale_lines_id_seq OWNED BY public.sale_lines.id;


--
-- Name: sales; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.sales (
    id integer NOT NULL,
    sale_id character varying(64) NOT NULL,
    device character varying(32) NOT NULL,
    seq bigint NOT NULL,
    kind character varying(16) NOT NULL,
    receipt_no character varying(128) NOT NULL,
    store character varying(32) NOT NULL,
    region character varying(64) NOT NULL,
    staff character varying(64) NOT NULL,
    ts character varying(32) NOT NULL,
    day character varying(10) NOT NULL,
    currency character varying(3) NOT NULL,
    total bigint NOT NULL,
    account character varying(16),
    refund_of character varying(64),
    hash character varying(64) NOT NULL,
    raw json NOT NULL,
    ingested_at character varying(32) NOT NULL
);


--
-- Name: sales_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.sales_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: sales_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.sales_id_seq OWNED BY public.sales.id;


--
-- Name: stock; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.stock (
    store character varying(32) NOT NULL,
    sku character varying(64) NOT NULL,
    level bigint NOT NULL,
    version bigint NOT NULL,
    published_version bigint NOT NULL
);


--
-- Name: stock_moves; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.stock_moves (
    id integer NOT NULL,
    store character varying(32) NOT NULL,
    sku character varying(64) NOT NULL,
    delta bigint NOT NULL,
    reason character varying(16) NOT NULL,
    ref character varying(64),
    at character varying(32) NOT NULL
);


--
-- Name: stock_moves_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.stock_moves_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: stock_moves_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.stock_moves_id_seq OWNED BY public.stock_moves.id;


--
-- Name: tenders; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.tenders (
    id integer NOT NULL,
    sale integer NOT NULL,
    type character varying(16) NOT NULL,
    amount bigint NOT NULL
);


--
-- Name: tenders_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.tenders_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: tenders_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.tenders_id_seq OWNED BY public.tenders.id;


--
-- Name: consents id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.consents ALTER COLUMN id SET DEFAULT nextval('public.consents_id_seq'::regclass);


--
-- Name: dead_letters id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.dead_letters ALTER COLUMN id SET DEFAULT nextval('public.dead_letters_id_seq'::regclass);


--
-- Name: events id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events ALTER COLUMN id SET DEFAULT nextval('public.events_id_seq'::regclass);


--
-- Name: loyalty_allocations id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.loyalty_allocations ALTER COLUMN id SET DEFAULT nextval('public.loyalty_allocations_id_seq'::regclass);


--
-- Name: loyalty_entries id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.loyalty_entries ALTER COLUMN id SET DEFAULT nextval('public.loyalty_entries_id_seq'::regclass);


--
-- Name: loyalty_lots id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.loyalty_lots ALTER COLUMN id SET DEFAULT nextval('public.loyalty_lots_id_seq'::regclass);


--
-- Name: sale_lines id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sale_lines ALTER COLUMN id SET DEFAULT nextval('public.sale_lines_id_seq'::regclass);


--
-- Name: sales id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sales ALTER COLUMN id SET DEFAULT nextval('public.sales_id_seq'::regclass);


--
-- Name: stock_moves id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.stock_moves ALTER COLUMN id SET DEFAULT nextval('public.stock_moves_id_seq'::regclass);


--
-- Name: tenders id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.tenders ALTER COLUMN id SET DEFAULT nextval('public.tenders_id_seq'::regclass);


--
-- Data for Name: collector_meta; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.collector_meta (key, value) VALUES ('schema_version', '2');


--
-- Data for Name: consents; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.consents (id, account, channel, granted, at, source) VALUES (1, '00000001', 'email', true, '2026-12-03T16:27:13.371Z', 'import:customers.csv');
INSERT INTO public.consents (id, account, channel, granted, at, source) VALUES (2, '00000001', 'sms', true, '2026-12-03T16:27:13.371Z', 'import:customers.csv');
INSERT INTO public.consents (id, account, channel, granted, at, source) VALUES (3, '00000002', 'email', true, '2026-12-03T16:27:13.371Z', 'import:customers.csv');
INSERT INTO public.consents (id, account, channel, granted, at, source) VALUES (4, '00000002', 'sms', false, '2026-12-03T16:27:13.371Z', 'import:customers.csv');
INSERT INTO public.consents (id, account, channel, granted, at, source) VALUES (5, '00000003', 'email', false, '2026-12-03T16:27:13.371Z', 'import:customers.csv');
INSERT INTO public.consents (id, account, channel, granted, at, source) VALUES (6, '00000003', 'sms', false, '2026-12-03T16:27:13.371Z', 'import:customers.csv');
INSERT INTO public.consents (id, account, channel, granted, at, source) VALUES (7, '00000004', 'email', false, '2026-12-03T16:27:13.371Z', 'import:customers.csv');
INSERT INTO public.consents (id, account, channel, granted, at, source) VALUES (8, '00000004', 'sms', true, '2026-12-03T16:27:13.371Z', 'import:customers.csv');
INSERT INTO public.consents (id, account, channel, granted, at, source) VALUES (11, '00000006', 'email', true, '2026-12-03T16:27:13.371Z', 'import:customers.csv');
INSERT INTO public.consents (id, account, channel, granted, at, source) VALUES (12, '00000006', 'sms', true, '2026-12-03T16:27:13.371Z', 'import:customers.csv');
INSERT INTO public.consents (id, account, channel, granted, at, source) VALUES (13, '00000007', 'email', true, '2026-12-03T16:27:13.437Z', 'kiosk:kiosk-01');


--
-- Data for Name: customer_keys; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.customer_keys (account, wrapped, created_at) VALUES ('00000001', '\x13fa9adaa3844450f27f0cf188c0e52421975982b569a407aa96fdba97e03f9f7b58904e44b08b441168a952b116f3d86895aa2fa0e1745cdb174976', '2026-12-03T16:27:13.375Z');
INSERT INTO public.customer_keys (account, wrapped, created_at) VALUES ('00000002', '\x0ef58da705f91702c282e26cc6af8c9570789e98891cd5879de9c82f60ef2adc4d447f6ce2d60a3bee9bd8bf53504e8b803df7cd907bd745f01f0ace', '2026-12-03T16:27:13.392Z');
INSERT INTO public.customer_keys (account, wrapped, created_at) VALUES ('00000003', '\x47d096b492b9918335bb493eed9e59fe8b26b3ea3060d7a8d80c8e315a2a3ddd070e7654a2ff50e8bea889bcc4bbf1f0659e1a4fc8f38c13540b2ff8', '2026-12-03T16:27:13.406Z');
INSERT INTO public.customer_keys (account, wrapped, created_at) VALUES ('00000004', '\xa051e53fa231bab438961828ce702c8ca5d6b7a78ecad5c64d55a2dc3b630c25eee01b681d28df7f4dc3d298c30da720230269b2a16035ae0763b938', '2026-12-03T16:27:13.414Z');
INSERT INTO public.customer_keys (account, wrapped, created_at) VALUES ('00000006', '\xf9b1263347e1c72971d6710313b1807cf20d1bf677606a11e9973e660e7ff1709bec5a24b92a08f6404bb92d37fc3a70f93b0decdd12f2e010542ac8', '2026-12-03T16:27:13.428Z');
INSERT INTO public.customer_keys (account, wrapped, created_at) VALUES ('00000007', '\x825e8719c91df485828bc67b5dbe3e2bdfe64fc6c8fa5d4c8174565e57f3aab8e90960abca31761491e4f3dd4d6877bd85a61a38e626e2d0fe66f291', '2026-12-03T16:27:13.450Z');


--
-- Data for Name: customers; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.customers (account, sealed, source, created_at, updated_at) VALUES ('00000001', '\xad9f5944947729e6bc3fbf5027cbd88a56403022047d078c7b6256227a91eb01370fc963c5ea58aaf56f112a9bcf1cb4a4ff5aa8f81e61370ae80602b16e28bb1578cafa9f6d80d85c0b338a58d0bb7729369dbf824d127b5ba4a57eda5f12edcbd90b15412b41ea1cdf3f61e3fbd49c9c9b2f224ec8d9fd44b1288bdf6a37e1eb51d33c55406e4304f2d75bc5f1', 'import:customers.csv', '2026-12-03T16:27:13.379Z', '2026-12-03T16:27:13.379Z');
INSERT INTO public.customers (account, sealed, source, created_at, updated_at) VALUES ('00000002', '\x2d29f83168de825d3a81ae66b74cdfc190e49c86e4128466644dbb23899d884bff57239b67b3deedb1c1229977addb4f5c0789552777d1d6c276d5424fe5b61273248cf8c18663e51e8b61b34feaf0e695df613f87eb095f9229f8131885f796c456bab55e7d0f41c64d031dbc2bf264f7be7d6c32', 'import:customers.csv', '2026-12-03T16:27:13.394Z', '2026-12-03T16:27:13.394Z');
INSERT INTO public.customers (account, sealed, source, created_at, updated_at) VALUES ('00000003', '\x77f55647b8580ca788922bbad40d5a75ac35c1b773fa92dec7bc5eb58d48a80e9a88ee1cb2f1da9047d73f01efb949246919a0632e344cf2524590c9dc4c6ce643367bf31887aa2459e51a93050c235eeeacf3c8c7e0e45fdb23ee55ad20984be4fc87ee9e35625f997fdf91fac0b7220f1caa460f6493dfc4d5553b05', 'import:customers.csv', '2026-12-03T16:27:13.407Z', '2026-12-03T16:27:13.407Z');
INSERT INTO public.customers (account, sealed, source, created_at, updated_at) VALUES ('00000004', '\xbe0f9233cd0ec0af0010a7f9d10f99433f7babea371931c323df44b80cc7d39ba7b3ab7aa6ecb319fa93066f433670da630b0a51f9ae3c68e5db000590afe2f9bed27bd79d33dea4c76ab972fa0cc2e3848c1934f0810afaa48051808d0993d85a8dce1710cfcdb310edc58435bc85caa2d66bddd16b0684de72b22b089171fff1a62ef5f218937506233c', 'import:customers.csv', '2026-12-03T16:27:13.415Z', '2026-12-03T16:27:13.415Z');
INSERT INTO public.customers (account, sealed, source, created_at, updated_at) VALUES ('00000006', '\x6399bc0936798e22f9976ed002b792cf78d6cf165061e1a997c6d02284be8cf3231be70bd7e8f01dce8f6b8963f0c05e17c0e7a148ff4659bea8a876eafcb73a020fd9df6bcb684a766ddd9621562b1adce63e0054f32bc94e630c9b4c5b86217393f5478678cc39ca386836c7eed88716c532', 'import:customers.csv', '2026-12-03T16:27:13.430Z', '2026-12-03T16:27:13.430Z');
INSERT INTO public.customers (account, sealed, source, created_at, updated_at) VALUES ('00000007', '\xd5f30a20724f24db0bb5d26f04a0f3ae238fdb0d8e153e9707e4a0d954d6f4140404e7d718a902cbcf585780a8e2b32659ee9da72f3f20185d3a1c86ae62cc8dceeec1225c681fa90ac3192f22432a9e8183051fea02686a7c4316c48ad1b0f975900ec05898bbce2ac93ab04c0397ddcdec8fd6af8019', 'kiosk:kiosk-01', '2026-12-03T16:27:13.451Z', '2026-12-03T16:27:13.451Z');


--
-- Data for Name: dead_letters; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.dead_letters (id, topic, payload, size, reason, received_at) VALUES (1, 'pos/v1/s001/till-01/sales', '\x006e6f74206a736f6e', 9, 'JSON is malformed: invalid character (byte 0)', '2026-12-03T16:27:13.492Z');
INSERT INTO public.dead_letters (id, topic, payload, size, reason, received_at) VALUES (2, 'pos/v1/s001/till-01/weather', '\x7b7d', 2, 'topic leaf ''weather'' is not one the collector reads', '2026-12-03T16:27:13.492Z');
INSERT INTO public.dead_letters (id, topic, payload, size, reason, received_at) VALUES (3, 'pos/v1/s002/till-03/sales', '\x7b22736368656d61223a20312c2022736571223a20312c202273616c655f6964223a202235353962396566352d626266312d346263322d623333612d636265633665363630323236222c20226b696e64223a202273616c65222c2022726563656970745f6e6f223a2022733030312d74696c6c2d30312d303030303031222c2022646576696365223a202274696c6c2d3031222c202273746f7265223a202273303031222c2022726567696f6e223a20226e6f727468222c20227374616666223a2022616e61222c20227473223a2022323032342d30362d30315430393a31303a30302e3030305a222c202263757272656e6379223a2022455552222c20226c696e6573223a205b7b22736b75223a20224131222c2022626172636f6465223a202234303036333831333333393331222c20226e616d65223a20224361665c75303065392063725c75303065386d65222c2022717479223a20312c2022756e69745f7072696365223a203235302c2022646973636f756e74223a20302c2022746f74616c223a203235302c20227461785f72617465223a20223230227d2c207b22736b75223a20224232222c2022626172636f6465223a202234303036333831333333393331222c20226e616d65223a20224272696f636865222c2022717479223a20312c2022756e69745f7072696365223a203138302c2022646973636f756e74223a2033302c2022746f74616c223a203135302c20227461785f72617465223a20223230227d5d2c2022746f74616c223a203430302c2022746178223a205b7b2272617465223a20223230222c202262617365223a203333332c2022746178223a2036377d5d2c202274656e64657273223a205b7b2274797065223a202263617264222c2022616d6f756e74223a203430307d5d2c20226368616e6765223a20302c20226c6f79616c7479223a207b226163636f756e74223a20223030303030303031222c20226561726e6564223a20342c202272656465656d6564223a20302c202262616c616e6365223a206e756c6c2c20226f66666c696e65223a2066616c73657d2c2022726566756e645f6f66223a206e756c6c2c2022707265765f68617368223a202230303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030222c202268617368223a202264383235626362323132613664363661396364303536343730643339613462373462613336353533633062333061366635333330376634336333313866666561222c2022736967223a20223864356434383862356361386431386132366339636534356534616233313164323339616662356135646130616538313465306263353833663331373866646664373564643939313861646563316536303531303361313338373934623735393738336665646133656566306238633165616433393061373733346335323033227d', 1090, 'payload device ''till-01'' is not the topic''s ''till-03''', '2026-12-03T16:27:13.492Z');


--
-- Data for Name: devices; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.devices (id, store, region, public_key, first_seen, last_seen, version, state, last_seq, last_hash, outbox_depth, printer, telemetry) VALUES ('till-01', 's001', 'x', '-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAnBE34dblj2yuxEPpefxAwQQ6fGY5xRz8b28iXyExlA4=
-----END PUBLIC KEY-----
', '2026-12-03T16:27:13.492Z', '2026-12-03T16:27:13.492Z', '1.4.2', 'online', 5, 'aea3468b2ae47557cd5aa678a4668f439f13ab646b1da02f0be2b37605ace537', 0, 'ok', '{"ts":"2026-11-30T12:00:00.000Z","last_seq":5,"scanner":"ok","drawer":"closed","disk_free":12345678901,"uptime":86400.5}');
INSERT INTO public.devices (id, store, region, public_key, first_seen, last_seen, version, state, last_seq, last_hash, outbox_depth, printer, telemetry) VALUES ('till-03', 's002', 'x', '-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEApNsDNVpf80lwZvY3zR8AVlxICWjFjaIsJeGL6w5SUJk=
-----END PUBLIC KEY-----
', '2026-12-03T16:27:13.492Z', '2026-12-03T16:27:13.492Z', '1.4.2', 'online', 3, 'bcaa77832e2191d16eaa026fa170fec2ffe44d0c764f85d9573f582446e7c157', 0, 'paper_out', '{"ts":"2026-11-30T12:00:00.000Z","last_seq":3,"scanner":"ok","drawer":"closed","disk_free":12345678901,"uptime":86400.5}');
INSERT INTO public.devices (id, store, region, public_key, first_seen, last_seen, version, state, last_seq, last_hash, outbox_depth, printer, telemetry) VALUES ('till-02', 's001', 'x', '-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAaJwn+prHT9NTrgDze3RaAFCxiACyHNgFqWtkoBUiiOc=
-----END PUBLIC KEY-----
', '2026-12-03T16:27:13.492Z', '2026-12-03T16:27:13.610Z', '1.4.2', 'online', 5, 'c3ddcd5ba7a0f14cd3b64689e2df3a8ea6d9ecd8bad90c846aa17f99aa7b263f', 0, 'ok', '{"ts":"2026-11-30T12:00:00.000Z","last_seq":3,"scanner":"ok","drawer":"closed","disk_free":12345678901,"uptime":86400.5}');


--
-- Data for Name: events; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.events (id, device, kind, ts, detail, received_at) VALUES (1, 'till-01', 'drawer_open', '2026-11-30T12:01:00.000Z', '{"s":3}', '2026-12-03T16:27:13.492Z');
INSERT INTO public.events (id, device, kind, ts, detail, received_at) VALUES (2, 'till-02', 'drawer_open', '2026-11-30T12:01:00.000Z', '{"s":3}', '2026-12-03T16:27:13.492Z');
INSERT INTO public.events (id, device, kind, ts, detail, received_at) VALUES (3, 'till-03', 'drawer_open', '2026-11-30T12:01:00.000Z', '{"s":3}', '2026-12-03T16:27:13.492Z');


--
-- Data for Name: loyalty_accounts; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.loyalty_accounts (account, balance, overdrawn, issue, next_expiry, updated_at) VALUES ('00000007', 0, 0, 0, NULL, '2026-12-03T16:27:13.437Z');
INSERT INTO public.loyalty_accounts (account, balance, overdrawn, issue, next_expiry, updated_at) VALUES ('00000004', 3, 0, 0, '2028-11-23T09:13:00.000Z', '2026-12-03T16:27:13.550Z');
INSERT INTO public.loyalty_accounts (account, balance, overdrawn, issue, next_expiry, updated_at) VALUES ('00000002', 6, 0, 1, '2028-11-27T09:17:00.000Z', '2026-12-03T16:27:13.572Z');
INSERT INTO public.loyalty_accounts (account, balance, overdrawn, issue, next_expiry, updated_at) VALUES ('00000001', 4, 0, 0, '2028-11-26T09:16:00.000Z', '2026-12-03T16:27:13.638Z');
INSERT INTO public.loyalty_accounts (account, balance, overdrawn, issue, next_expiry, updated_at) VALUES ('00000003', 25, 0, 0, '2028-12-03T16:27:13.659Z', '2026-12-03T16:27:13.665Z');
INSERT INTO public.loyalty_accounts (account, balance, overdrawn, issue, next_expiry, updated_at) VALUES ('00000006', 50, 0, 0, '2028-12-03T16:27:13.672Z', '2026-12-03T16:27:13.672Z');
INSERT INTO public.loyalty_accounts (account, balance, overdrawn, issue, next_expiry, updated_at) VALUES ('erased-2d224bc1', 4, 0, 0, '2028-11-24T09:14:00.000Z', '2026-12-03T16:27:13.568Z');


--
-- Data for Name: loyalty_allocations; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.loyalty_allocations (id, entry, lot, points) VALUES (1, 4, 1, 4);
INSERT INTO public.loyalty_allocations (id, entry, lot, points) VALUES (2, 6, 2, 3);
INSERT INTO public.loyalty_allocations (id, entry, lot, points) VALUES (3, 9, 4, 6);
INSERT INTO public.loyalty_allocations (id, entry, lot, points) VALUES (4, 11, 3, 3);
INSERT INTO public.loyalty_allocations (id, entry, lot, points) VALUES (5, 13, 7, 4);
INSERT INTO public.loyalty_allocations (id, entry, lot, points) VALUES (6, 16, 9, 20);


--
-- Data for Name: loyalty_cards; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.loyalty_cards (account, issue, code, issued_at, blocked_at) VALUES ('00000001', 0, '2900000000018', '2026-12-03T16:27:13.371Z', NULL);
INSERT INTO public.loyalty_cards (account, issue, code, issued_at, blocked_at) VALUES ('00000003', 0, '2900000000032', '2026-12-03T16:27:13.371Z', NULL);
INSERT INTO public.loyalty_cards (account, issue, code, issued_at, blocked_at) VALUES ('00000004', 0, '2900000000049', '2026-12-03T16:27:13.371Z', NULL);
INSERT INTO public.loyalty_cards (account, issue, code, issued_at, blocked_at) VALUES ('00000006', 0, '2900000000063', '2026-12-03T16:27:13.371Z', NULL);
INSERT INTO public.loyalty_cards (account, issue, code, issued_at, blocked_at) VALUES ('00000007', 0, '2900000000070', '2026-12-03T16:27:13.437Z', NULL);
INSERT INTO public.loyalty_cards (account, issue, code, issued_at, blocked_at) VALUES ('00000002', 0, '2900000000025', '2026-12-03T16:27:13.371Z', '2026-12-03T16:27:13.457Z');
INSERT INTO public.loyalty_cards (account, issue, code, issued_at, blocked_at) VALUES ('00000002', 1, '2901000000022', '2026-12-03T16:27:13.457Z', NULL);
INSERT INTO public.loyalty_cards (account, issue, code, issued_at, blocked_at) VALUES ('erased-2d224bc1', 0, '', '2026-12-03T16:27:13.371Z', NULL);


--
-- Data for Name: loyalty_channels; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.loyalty_channels (name, key_hash, created_at, revoked_at) VALUES ('webshop', 'c02b2f93f3e8e30b25884c28a30b0b3719eaab7fb694cc4c7e137754cd66497e', '2026-12-03T16:27:13.726Z', NULL);
INSERT INTO public.loyalty_channels (name, key_hash, created_at, revoked_at) VALUES ('app', '958cb51f64a523bee4e5174209d6721957730dbaaa95fea459dd4b13be695112', '2026-12-03T16:27:13.730Z', '2026-12-03T16:27:13.734Z');


--
-- Data for Name: loyalty_entries; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.loyalty_entries (id, key, account, kind, points, balance, spend, at, source, detail) VALUES (1, 'enrol:kiosk-01:1', '00000007', 'enrol', 0, 0, 0, '2026-12-03T16:27:13.437Z', 'kiosk:kiosk-01', '{"card":"2900000000070"}');
INSERT INTO public.loyalty_entries (id, key, account, kind, points, balance, spend, at, source, detail) VALUES (2, 'sale:559b9ef5-bbf1-4bc2-b33a-cbec6e660226:earn', '00000001', 'earn', 4, 4, 400, '2026-12-03T16:27:13.524Z', 'sale:559b9ef5-bbf1-4bc2-b33a-cbec6e660226', '{"paid":400,"currency":"EUR","multiplier":"1","till_earned":4,"offline":false,"device":"till-01"}');
INSERT INTO public.loyalty_entries (id, key, account, kind, points, balance, spend, at, source, detail) VALUES (3, 'sale:429d32e2-2da2-4926-9e1e-0eb4d6acf8a6:earn', '00000004', 'earn', 6, 6, 650, '2026-12-03T16:27:13.531Z', 'sale:429d32e2-2da2-4926-9e1e-0eb4d6acf8a6', '{"paid":650,"currency":"EUR","multiplier":"1","till_earned":6,"offline":false,"device":"till-01"}');
INSERT INTO public.loyalty_entries (id, key, account, kind, points, balance, spend, at, source, detail) VALUES (4, 'expire:lot:1', '00000001', 'expire', -4, 0, 0, '2026-12-03T16:27:13.536Z', 'sale:559b9ef5-bbf1-4bc2-b33a-cbec6e660226', '{"lot":1,"expires_at":"2026-06-01T09:10:00.000Z"}');
INSERT INTO public.loyalty_entries (id, key, account, kind, points, balance, spend, at, source, detail) VALUES (5, 'sale:954a616e-fa28-40a9-886a-39369821dcef:earn', '00000001', 'earn', 4, 4, 400, '2026-12-03T16:27:13.536Z', 'sale:954a616e-fa28-40a9-886a-39369821dcef', '{"paid":400,"currency":"EUR","multiplier":"1","till_earned":4,"offline":false,"device":"till-01"}');
INSERT INTO public.loyalty_entries (id, key, account, kind, points, balance, spend, at, source, detail) VALUES (6, 'sale:97f9db00-09d1-4cfe-b3e9-1d5213527f96:reverse', '00000004', 'reverse', -3, 3, -250, '2026-12-03T16:27:13.550Z', 'refund_of:429d32e2-2da2-4926-9e1e-0eb4d6acf8a6', '{"paid":250,"refund_of":"429d32e2-2da2-4926-9e1e-0eb4d6acf8a6","till_earned":-2}');
INSERT INTO public.loyalty_entries (id, key, account, kind, points, balance, spend, at, source, detail) VALUES (7, 'sale:5a66f547-dce4-4969-813e-ec42716bc75a:earn', '00000002', 'earn', 6, 6, 650, '2026-12-03T16:27:13.564Z', 'sale:5a66f547-dce4-4969-813e-ec42716bc75a', '{"paid":650,"currency":"EUR","multiplier":"1","till_earned":6,"offline":false,"device":"till-02"}');
INSERT INTO public.loyalty_entries (id, key, account, kind, points, balance, spend, at, source, detail) VALUES (9, 'expire:lot:4', '00000002', 'expire', -6, 0, 0, '2026-12-03T16:27:13.572Z', 'sale:5a66f547-dce4-4969-813e-ec42716bc75a', '{"lot":4,"expires_at":"2026-06-01T09:11:00.000Z"}');
INSERT INTO public.loyalty_entries (id, key, account, kind, points, balance, spend, at, source, detail) VALUES (10, 'sale:5ee86a58-cc68-4200-935d-3bb184708f4c:earn', '00000002', 'earn', 6, 6, 650, '2026-12-03T16:27:13.572Z', 'sale:5ee86a58-cc68-4200-935d-3bb184708f4c', '{"paid":650,"currency":"EUR","multiplier":"1","till_earned":6,"offline":false,"device":"till-02"}');
INSERT INTO public.loyalty_entries (id, key, account, kind, points, balance, spend, at, source, detail) VALUES (11, 'sale:1c6ad8ea-688a-485b-868a-565d9d5b5334:redeem', '00000001', 'redeem', -3, 1, 0, '2026-12-03T16:27:13.613Z', 'sale:1c6ad8ea-688a-485b-868a-565d9d5b5334', '{"reservation":"70359be4f9bf4772af0aee679169fc24","offline":false,"device":"till-02"}');
INSERT INTO public.loyalty_entries (id, key, account, kind, points, balance, spend, at, source, detail) VALUES (12, 'sale:1c6ad8ea-688a-485b-868a-565d9d5b5334:earn', '00000001', 'earn', 4, 5, 417, '2026-12-03T16:27:13.613Z', 'sale:1c6ad8ea-688a-485b-868a-565d9d5b5334', '{"paid":417,"currency":"EUR","multiplier":"1","till_earned":4,"offline":false,"device":"till-02"}');
INSERT INTO public.loyalty_entries (id, key, account, kind, points, balance, spend, at, source, detail) VALUES (13, 'sale:b5f72e20-0630-481c-89c6-3d161022e62b:reverse', '00000001', 'reverse', -4, 1, -417, '2026-12-03T16:27:13.638Z', 'refund_of:1c6ad8ea-688a-485b-868a-565d9d5b5334', '{"paid":417,"refund_of":"1c6ad8ea-688a-485b-868a-565d9d5b5334","till_earned":-4}');
INSERT INTO public.loyalty_entries (id, key, account, kind, points, balance, spend, at, source, detail) VALUES (14, 'sale:b5f72e20-0630-481c-89c6-3d161022e62b:giveback', '00000001', 'giveback', 3, 4, 0, '2026-12-03T16:27:13.638Z', 'refund_of:1c6ad8ea-688a-485b-868a-565d9d5b5334', '{"refund_of":"1c6ad8ea-688a-485b-868a-565d9d5b5334","till_redeemed":-3}');
INSERT INTO public.loyalty_entries (id, key, account, kind, points, balance, spend, at, source, detail) VALUES (15, 'web:shop:o-1', '00000003', 'earn', 45, 45, 4599, '2026-12-03T16:27:13.659Z', 'web:shop', '{"paid":4599,"currency":"EUR","multiplier":"1"}');
INSERT INTO public.loyalty_entries (id, key, account, kind, points, balance, spend, at, source, detail) VALUES (16, 'web:shop:o-2', '00000003', 'redeem', -20, 25, 0, '2026-12-03T16:27:13.665Z', 'web:shop', '{}');
INSERT INTO public.loyalty_entries (id, key, account, kind, points, balance, spend, at, source, detail) VALUES (17, 'goodwill:2026-12-01', '00000006', 'earn', 50, 50, 0, '2026-12-03T16:27:13.672Z', 'staff:ana', '{}');
INSERT INTO public.loyalty_entries (id, key, account, kind, points, balance, spend, at, source, detail) VALUES (8, 'sale:c5d66e7a-6233-4f46-a669-54b7c68cf784:earn', 'erased-2d224bc1', 'earn', 4, 4, 400, '2026-12-03T16:27:13.568Z', 'sale:c5d66e7a-6233-4f46-a669-54b7c68cf784', '{"paid":400,"currency":"EUR","multiplier":"1","till_earned":4,"offline":false,"device":"till-02"}');


--
-- Data for Name: loyalty_lots; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.loyalty_lots (id, entry, account, points, remaining, earned_at, expires_at, source) VALUES (1, 2, '00000001', 4, 0, '2024-06-01T09:10:00.000Z', '2026-06-01T09:10:00.000Z', 'sale:559b9ef5-bbf1-4bc2-b33a-cbec6e660226');
INSERT INTO public.loyalty_lots (id, entry, account, points, remaining, earned_at, expires_at, source) VALUES (2, 3, '00000004', 6, 3, '2026-11-23T09:13:00.000Z', '2028-11-23T09:13:00.000Z', 'sale:429d32e2-2da2-4926-9e1e-0eb4d6acf8a6');
INSERT INTO public.loyalty_lots (id, entry, account, points, remaining, earned_at, expires_at, source) VALUES (4, 7, '00000002', 6, 0, '2024-06-01T09:11:00.000Z', '2026-06-01T09:11:00.000Z', 'sale:5a66f547-dce4-4969-813e-ec42716bc75a');
INSERT INTO public.loyalty_lots (id, entry, account, points, remaining, earned_at, expires_at, source) VALUES (6, 10, '00000002', 6, 6, '2026-11-27T09:17:00.000Z', '2028-11-27T09:17:00.000Z', 'sale:5ee86a58-cc68-4200-935d-3bb184708f4c');
INSERT INTO public.loyalty_lots (id, entry, account, points, remaining, earned_at, expires_at, source) VALUES (3, 5, '00000001', 4, 1, '2026-11-26T09:16:00.000Z', '2028-11-26T09:16:00.000Z', 'sale:954a616e-fa28-40a9-886a-39369821dcef');
INSERT INTO public.loyalty_lots (id, entry, account, points, remaining, earned_at, expires_at, source) VALUES (7, 12, '00000001', 4, 0, '2026-11-30T10:00:00.000Z', '2028-11-30T10:00:00.000Z', 'sale:1c6ad8ea-688a-485b-868a-565d9d5b5334');
INSERT INTO public.loyalty_lots (id, entry, account, points, remaining, earned_at, expires_at, source) VALUES (8, 14, '00000001', 3, 3, '2026-12-03T16:27:13.638Z', '2028-12-03T16:27:13.638Z', 'refund_of:1c6ad8ea-688a-485b-868a-565d9d5b5334');
INSERT INTO public.loyalty_lots (id, entry, account, points, remaining, earned_at, expires_at, source) VALUES (9, 15, '00000003', 45, 25, '2026-12-03T16:27:13.659Z', '2028-12-03T16:27:13.659Z', 'web:shop');
INSERT INTO public.loyalty_lots (id, entry, account, points, remaining, earned_at, expires_at, source) VALUES (10, 17, '00000006', 50, 50, '2026-12-03T16:27:13.672Z', '2028-12-03T16:27:13.672Z', 'staff:ana');
INSERT INTO public.loyalty_lots (id, entry, account, points, remaining, earned_at, expires_at, source) VALUES (5, 8, 'erased-2d224bc1', 4, 4, '2026-11-24T09:14:00.000Z', '2028-11-24T09:14:00.000Z', 'sale:c5d66e7a-6233-4f46-a669-54b7c68cf784');


--
-- Data for Name: loyalty_reservations; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.loyalty_reservations (id, key, account, points, device, sale_id, state, created_at, expires_at, entry) VALUES ('70359be4f9bf4772af0aee679169fc24', 'hold:till-02:1', '00000001', 3, 'till-02', NULL, 'committed', '2026-12-03T16:27:13.599Z', '2026-12-03T16:32:13.599Z', 11);
INSERT INTO public.loyalty_reservations (id, key, account, points, device, sale_id, state, created_at, expires_at, entry) VALUES ('f699ad3a8c3b4bf8901ac0d039dea56a', 'hold:till-01:2', '00000006', 10, 'till-01', NULL, 'released', '2026-12-03T16:27:13.677Z', '2026-12-03T16:32:13.677Z', NULL);
INSERT INTO public.loyalty_reservations (id, key, account, points, device, sale_id, state, created_at, expires_at, entry) VALUES ('b77fbf485fa546cdb2d1b4c56e1c33c8', 'hold:till-01:3', '00000006', 15, 'till-01', 's-offline', 'held', '2026-12-03T16:27:13.690Z', '2026-12-10T16:27:13.695Z', NULL);
INSERT INTO public.loyalty_reservations (id, key, account, points, device, sale_id, state, created_at, expires_at, entry) VALUES ('18e3b9987ce74660bf65ee1247e7b8d9', 'hold:till-03:4', '00000003', 7, 'till-03', NULL, 'held', '2026-12-03T16:27:13.700Z', '2026-12-03T16:32:13.700Z', NULL);


--
-- Data for Name: sale_lines; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.sale_lines (id, sale, line_no, sku, name, qty, unit_price, discount, total, tax_rate) VALUES (1, 1, 1, 'A1', 'Café crème', 1, 250, 0, 250, '20');
INSERT INTO public.sale_lines (id, sale, line_no, sku, name, qty, unit_price, discount, total, tax_rate) VALUES (2, 1, 2, 'B2', 'Brioche', 1, 180, 30, 150, '20');
INSERT INTO public.sale_lines (id, sale, line_no, sku, name, qty, unit_price, discount, total, tax_rate) VALUES (3, 2, 1, 'A1', 'Café crème', 2, 250, 0, 500, '20');
INSERT INTO public.sale_lines (id, sale, line_no, sku, name, qty, unit_price, discount, total, tax_rate) VALUES (4, 2, 2, 'B2', 'Brioche', 1, 180, 30, 150, '20');
INSERT INTO public.sale_lines (id, sale, line_no, sku, name, qty, unit_price, discount, total, tax_rate) VALUES (5, 3, 1, 'A1', 'Café crème', 1, 250, 0, 250, '20');
INSERT INTO public.sale_lines (id, sale, line_no, sku, name, qty, unit_price, discount, total, tax_rate) VALUES (6, 3, 2, 'B2', 'Brioche', 1, 180, 30, 150, '20');
INSERT INTO public.sale_lines (id, sale, line_no, sku, name, qty, unit_price, discount, total, tax_rate) VALUES (7, 4, 1, 'A1', 'Café crème', -1, 250, 0, -250, '20');
INSERT INTO public.sale_lines (id, sale, line_no, sku, name, qty, unit_price, discount, total, tax_rate) VALUES (8, 6, 1, 'A1', 'Café crème', 2, 250, 0, 500, '20');
INSERT INTO public.sale_lines (id, sale, line_no, sku, name, qty, unit_price, discount, total, tax_rate) VALUES (9, 6, 2, 'B2', 'Brioche', 1, 180, 30, 150, '20');
INSERT INTO public.sale_lines (id, sale, line_no, sku, name, qty, unit_price, discount, total, tax_rate) VALUES (10, 7, 1, 'A1', 'Café crème', 1, 250, 0, 250, '20');
INSERT INTO public.sale_lines (id, sale, line_no, sku, name, qty, unit_price, discount, total, tax_rate) VALUES (11, 7, 2, 'B2', 'Brioche', 1, 180, 30, 150, '20');
INSERT INTO public.sale_lines (id, sale, line_no, sku, name, qty, unit_price, discount, total, tax_rate) VALUES (12, 8, 1, 'A1', 'Café crème', 2, 250, 0, 500, '20');
INSERT INTO public.sale_lines (id, sale, line_no, sku, name, qty, unit_price, discount, total, tax_rate) VALUES (13, 8, 2, 'B2', 'Brioche', 1, 180, 30, 150, '20');
INSERT INTO public.sale_lines (id, sale, line_no, sku, name, qty, unit_price, discount, total, tax_rate) VALUES (14, 9, 1, 'A1', 'Café crème', 1, 250, 0, 250, '20');
INSERT INTO public.sale_lines (id, sale, line_no, sku, name, qty, unit_price, discount, total, tax_rate) VALUES (15, 9, 2, 'B2', 'Brioche', 1, 180, 30, 150, '20');
INSERT INTO public.sale_lines (id, sale, line_no, sku, name, qty, unit_price, discount, total, tax_rate) VALUES (16, 10, 1, 'A1', 'Café crème', 2, 250, 0, 500, '20');
INSERT INTO public.sale_lines (id, sale, line_no, sku, name, qty, unit_price, discount, total, tax_rate) VALUES (17, 10, 2, 'B2', 'Brioche', 1, 180, 30, 150, '20');
INSERT INTO public.sale_lines (id, sale, line_no, sku, name, qty, unit_price, discount, total, tax_rate) VALUES (18, 11, 1, 'A1', 'Café crème', 1, 250, 0, 250, '20');
INSERT INTO public.sale_lines (id, sale, line_no, sku, name, qty, unit_price, discount, total, tax_rate) VALUES (19, 11, 2, 'B2', 'Brioche', 1, 180, 30, 150, '20');
INSERT INTO public.sale_lines (id, sale, line_no, sku, name, qty, unit_price, discount, total, tax_rate) VALUES (20, 12, 1, 'C3', 'Tarte', 1, 420, 0, 420, '20');
INSERT INTO public.sale_lines (id, sale, line_no, sku, name, qty, unit_price, discount, total, tax_rate) VALUES (21, 13, 1, 'C3', 'Tarte', -1, 420, 0, -420, '20');


--
-- Data for Name: sales; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.sales (id, sale_id, device, seq, kind, receipt_no, store, region, staff, ts, day, currency, total, account, refund_of, hash, raw, ingested_at) VALUES (1, '559b9ef5-bbf1-4bc2-b33a-cbec6e660226', 'till-01', 1, 'sale', 's001-till-01-000001', 's001', 'north', 'ana', '2024-06-01T09:10:00.000Z', '2024-06-01', 'EUR', 400, '00000001', NULL, 'd825bcb212a6d66a9cd056470d39a4b74ba36553c0b30a6f53307f43c318ffea', '{"change": 0, "currency": "EUR", "device": "till-01", "hash": "d825bcb212a6d66a9cd056470d39a4b74ba36553c0b30a6f53307f43c318ffea", "kind": "sale", "lines": [{"barcode": "4006381333931", "discount": 0, "name": "Caf\u00e9 cr\u00e8me", "qty": 1, "sku": "A1", "tax_rate": "20", "total": 250, "unit_price": 250}, {"barcode": "4006381333931", "discount": 30, "name": "Brioche", "qty": 1, "sku": "B2", "tax_rate": "20", "total": 150, "unit_price": 180}], "loyalty": {"account": "00000001", "balance": null, "earned": 4, "offline": false, "redeemed": 0}, "prev_hash": "0000000000000000000000000000000000000000000000000000000000000000", "receipt_no": "s001-till-01-000001", "refund_of": null, "region": "north", "sale_id": "559b9ef5-bbf1-4bc2-b33a-cbec6e660226", "schema": 1, "seq": 1, "sig": "8d5d488b5ca8d18a26c9ce45e4ab311d239afb5a5da0ae814e0bc583f3178fdfd75dd9918adec1e605103a138794b759783feda3eef0b8c1ead390a7734c5203", "staff": "ana", "store": "s001", "tax": [{"base": 333, "rate": "20", "tax": 67}], "tenders": [{"amount": 400, "type": "card"}], "total": 400, "ts": "2024-06-01T09:10:00.000Z"}', '2026-12-03T16:27:13.492Z');
INSERT INTO public.sales (id, sale_id, device, seq, kind, receipt_no, store, region, staff, ts, day, currency, total, account, refund_of, hash, raw, ingested_at) VALUES (2, '429d32e2-2da2-4926-9e1e-0eb4d6acf8a6', 'till-01', 2, 'sale', 's001-till-01-000002', 's001', 'north', 'ana', '2026-11-23T09:13:00.000Z', '2026-11-23', 'EUR', 650, '00000004', NULL, '066839fb0f794a622839aa34024fd34df431f2983806b2e5e9b5fca640ba20df', '{"change": 0, "currency": "EUR", "device": "till-01", "hash": "066839fb0f794a622839aa34024fd34df431f2983806b2e5e9b5fca640ba20df", "kind": "sale", "lines": [{"barcode": "4006381333931", "discount": 0, "name": "Caf\u00e9 cr\u00e8me", "qty": 2, "sku": "A1", "tax_rate": "20", "total": 500, "unit_price": 250}, {"barcode": "4006381333931", "discount": 30, "name": "Brioche", "qty": 1, "sku": "B2", "tax_rate": "20", "total": 150, "unit_price": 180}], "loyalty": {"account": "00000004", "balance": null, "earned": 6, "offline": false, "redeemed": 0}, "prev_hash": "d825bcb212a6d66a9cd056470d39a4b74ba36553c0b30a6f53307f43c318ffea", "receipt_no": "s001-till-01-000002", "refund_of": null, "region": "north", "sale_id": "429d32e2-2da2-4926-9e1e-0eb4d6acf8a6", "schema": 1, "seq": 2, "sig": "072225e7bdaf0063864a0c1f3ec6b45c0af605a1a467f212b0e2af87cae1fdd304787dd81911081ae16134af482dd1dce351a7b195b3b6ad5d3eac4ddfa16701", "staff": "ana", "store": "s001", "tax": [{"base": 541, "rate": "20", "tax": 109}], "tenders": [{"amount": 650, "type": "card"}], "total": 650, "ts": "2026-11-23T09:13:00.000Z"}', '2026-12-03T16:27:13.492Z');
INSERT INTO public.sales (id, sale_id, device, seq, kind, receipt_no, store, region, staff, ts, day, currency, total, account, refund_of, hash, raw, ingested_at) VALUES (3, '954a616e-fa28-40a9-886a-39369821dcef', 'till-01', 3, 'sale', 's001-till-01-000003', 's001', 'north', 'ana', '2026-11-26T09:16:00.000Z', '2026-11-26', 'EUR', 400, '00000001', NULL, '6afd262b9f726c232b82754c8056891ce2594a6d7568e2e9a918d15c3b4f7e26', '{"change": 0, "currency": "EUR", "device": "till-01", "hash": "6afd262b9f726c232b82754c8056891ce2594a6d7568e2e9a918d15c3b4f7e26", "kind": "sale", "lines": [{"barcode": "4006381333931", "discount": 0, "name": "Caf\u00e9 cr\u00e8me", "qty": 1, "sku": "A1", "tax_rate": "20", "total": 250, "unit_price": 250}, {"barcode": "4006381333931", "discount": 30, "name": "Brioche", "qty": 1, "sku": "B2", "tax_rate": "20", "total": 150, "unit_price": 180}], "loyalty": {"account": "00000001", "balance": null, "earned": 4, "offline": false, "redeemed": 0}, "prev_hash": "066839fb0f794a622839aa34024fd34df431f2983806b2e5e9b5fca640ba20df", "receipt_no": "s001-till-01-000003", "refund_of": null, "region": "north", "sale_id": "954a616e-fa28-40a9-886a-39369821dcef", "schema": 1, "seq": 3, "sig": "69209bd3322646983d5d4d9fc871a60d74da251d9791ad1923fb6fb2187344f0d96d69ac2823a44ef7f0c16caad2e238f50930290607ac2d16c2d8acd950c20b", "staff": "ana", "store": "s001", "tax": [{"base": 333, "rate": "20", "tax": 67}], "tenders": [{"amount": 400, "type": "card"}], "total": 400, "ts": "2026-11-26T09:16:00.000Z"}', '2026-12-03T16:27:13.492Z');
INSERT INTO public.sales (id, sale_id, device, seq, kind, receipt_no, store, region, staff, ts, day, currency, total, account, refund_of, hash, raw, ingested_at) VALUES (4, '97f9db00-09d1-4cfe-b3e9-1d5213527f96', 'till-01', 4, 'refund', 's001-till-01-000004', 's001', 'north', 'ana', '2026-11-29T15:00:00.000Z', '2026-11-29', 'EUR', -250, '00000004', '429d32e2-2da2-4926-9e1e-0eb4d6acf8a6', '476c21fd64550a8d21de899ca96e4d49d81728e3a0869dbccfb3f99d1e01ff31', '{"change": 0, "currency": "EUR", "device": "till-01", "hash": "476c21fd64550a8d21de899ca96e4d49d81728e3a0869dbccfb3f99d1e01ff31", "kind": "refund", "lines": [{"barcode": "4006381333931", "discount": 0, "name": "Caf\u00e9 cr\u00e8me", "qty": -1, "sku": "A1", "tax_rate": "20", "total": -250, "unit_price": 250}], "loyalty": {"account": "00000004", "balance": null, "earned": -2, "offline": false, "redeemed": 0}, "prev_hash": "6afd262b9f726c232b82754c8056891ce2594a6d7568e2e9a918d15c3b4f7e26", "receipt_no": "s001-till-01-000004", "refund_of": "429d32e2-2da2-4926-9e1e-0eb4d6acf8a6", "region": "north", "sale_id": "97f9db00-09d1-4cfe-b3e9-1d5213527f96", "schema": 1, "seq": 4, "sig": "d53eb14f5be30e3f3d80849f58f1993ae6a6a319aa427bd8973180322da7f82cc9d79e1f968edeb4e465f380aa1d1da0901f9af304f466fd0d9a034b3ec94006", "staff": "ana", "store": "s001", "tax": [{"base": -209, "rate": "20", "tax": -41}], "tenders": [{"amount": -250, "type": "card"}], "total": -250, "ts": "2026-11-29T15:00:00.000Z"}', '2026-12-03T16:27:13.492Z');
INSERT INTO public.sales (id, sale_id, device, seq, kind, receipt_no, store, region, staff, ts, day, currency, total, account, refund_of, hash, raw, ingested_at) VALUES (5, '997a5e83-c35b-428f-909d-c4ef9fa41db7', 'till-01', 5, 'no_sale', 's001-till-01-000005', 's001', 'north', 'ana', '2026-11-29T18:00:00.000Z', '2026-11-29', 'EUR', 0, NULL, NULL, 'aea3468b2ae47557cd5aa678a4668f439f13ab646b1da02f0be2b37605ace537', '{"change": 0, "currency": "EUR", "device": "till-01", "hash": "aea3468b2ae47557cd5aa678a4668f439f13ab646b1da02f0be2b37605ace537", "kind": "no_sale", "lines": [], "loyalty": null, "prev_hash": "476c21fd64550a8d21de899ca96e4d49d81728e3a0869dbccfb3f99d1e01ff31", "receipt_no": "s001-till-01-000005", "refund_of": null, "region": "north", "sale_id": "997a5e83-c35b-428f-909d-c4ef9fa41db7", "schema": 1, "seq": 5, "sig": "16a5422dab969e5b6233d6aba9a46d201e6584141d99ff35595307a803edb4976afb8fb3d28b8eeaf04286858fb6c341e01e7aeee17cf6de24c06d134d6e2b0b", "staff": "ana", "store": "s001", "tax": [{"base": 0, "rate": "20", "tax": 0}], "tenders": [{"amount": 0, "type": "card"}], "total": 0, "ts": "2026-11-29T18:00:00.000Z"}', '2026-12-03T16:27:13.492Z');
INSERT INTO public.sales (id, sale_id, device, seq, kind, receipt_no, store, region, staff, ts, day, currency, total, account, refund_of, hash, raw, ingested_at) VALUES (6, '5a66f547-dce4-4969-813e-ec42716bc75a', 'till-02', 1, 'sale', 's001-till-02-000001', 's001', 'north', 'ana', '2024-06-01T09:11:00.000Z', '2024-06-01', 'EUR', 650, '00000002', NULL, 'dc6055605a94f0fa45d34177017ce085d64ff1abd9d552d15ce60f640b1c9bcb', '{"change": 0, "currency": "EUR", "device": "till-02", "hash": "dc6055605a94f0fa45d34177017ce085d64ff1abd9d552d15ce60f640b1c9bcb", "kind": "sale", "lines": [{"barcode": "4006381333931", "discount": 0, "name": "Caf\u00e9 cr\u00e8me", "qty": 2, "sku": "A1", "tax_rate": "20", "total": 500, "unit_price": 250}, {"barcode": "4006381333931", "discount": 30, "name": "Brioche", "qty": 1, "sku": "B2", "tax_rate": "20", "total": 150, "unit_price": 180}], "loyalty": {"account": "00000002", "balance": null, "earned": 6, "offline": false, "redeemed": 0}, "prev_hash": "0000000000000000000000000000000000000000000000000000000000000000", "receipt_no": "s001-till-02-000001", "refund_of": null, "region": "north", "sale_id": "5a66f547-dce4-4969-813e-ec42716bc75a", "schema": 1, "seq": 1, "sig": "4e6b1b09dd117a3f65e4a9e279e775d3732eef618da211f062e38e13001169559960098c967edfda31197b7e93cbddeb400219d915fb532b0ad93c9c61e41404", "staff": "ana", "store": "s001", "tax": [{"base": 541, "rate": "20", "tax": 109}], "tenders": [{"amount": 650, "type": "card"}], "total": 650, "ts": "2024-06-01T09:11:00.000Z"}', '2026-12-03T16:27:13.492Z');
INSERT INTO public.sales (id, sale_id, device, seq, kind, receipt_no, store, region, staff, ts, day, currency, total, account, refund_of, hash, raw, ingested_at) VALUES (8, '5ee86a58-cc68-4200-935d-3bb184708f4c', 'till-02', 3, 'sale', 's001-till-02-000003', 's001', 'north', 'ana', '2026-11-27T09:17:00.000Z', '2026-11-27', 'EUR', 650, '00000002', NULL, '91208914a46a16ac5532daa3b955cb363a60af86e21c71673c827e5cd7a23e2c', '{"change": 0, "currency": "EUR", "device": "till-02", "hash": "91208914a46a16ac5532daa3b955cb363a60af86e21c71673c827e5cd7a23e2c", "kind": "sale", "lines": [{"barcode": "4006381333931", "discount": 0, "name": "Caf\u00e9 cr\u00e8me", "qty": 2, "sku": "A1", "tax_rate": "20", "total": 500, "unit_price": 250}, {"barcode": "4006381333931", "discount": 30, "name": "Brioche", "qty": 1, "sku": "B2", "tax_rate": "20", "total": 150, "unit_price": 180}], "loyalty": {"account": "00000002", "balance": null, "earned": 6, "offline": false, "redeemed": 0}, "prev_hash": "cd5ca254c7f1e7dcc2b45b39e6e26f4a20502c1d824f63573614de52b7ce6368", "receipt_no": "s001-till-02-000003", "refund_of": null, "region": "north", "sale_id": "5ee86a58-cc68-4200-935d-3bb184708f4c", "schema": 1, "seq": 3, "sig": "b1cb29fb3176cb22c23d5e8d5b043220bab4f63c497ce48f17a7f228aa0628a73fb7d44ff5863418643d399e29368f30fbcca2ef44bbcc18c4c73e5df3934305", "staff": "ana", "store": "s001", "tax": [{"base": 541, "rate": "20", "tax": 109}], "tenders": [{"amount": 650, "type": "card"}], "total": 650, "ts": "2026-11-27T09:17:00.000Z"}', '2026-12-03T16:27:13.492Z');
INSERT INTO public.sales (id, sale_id, device, seq, kind, receipt_no, store, region, staff, ts, day, currency, total, account, refund_of, hash, raw, ingested_at) VALUES (9, 'a60b68db-2624-4710-a33e-f20ccfbb0e1a', 'till-03', 1, 'sale', 's002-till-03-000001', 's002', 'south', 'ana', '2026-11-22T09:12:00.000Z', '2026-11-22', 'EUR', 400, NULL, NULL, '3291cf024a07c51b68c37d5f6b93a2dbd271c116553fa99fcfe2e0a56bebe589', '{"change": 0, "currency": "EUR", "device": "till-03", "hash": "3291cf024a07c51b68c37d5f6b93a2dbd271c116553fa99fcfe2e0a56bebe589", "kind": "sale", "lines": [{"barcode": "4006381333931", "discount": 0, "name": "Caf\u00e9 cr\u00e8me", "qty": 1, "sku": "A1", "tax_rate": "20", "total": 250, "unit_price": 250}, {"barcode": "4006381333931", "discount": 30, "name": "Brioche", "qty": 1, "sku": "B2", "tax_rate": "20", "total": 150, "unit_price": 180}], "loyalty": null, "prev_hash": "0000000000000000000000000000000000000000000000000000000000000000", "receipt_no": "s002-till-03-000001", "refund_of": null, "region": "south", "sale_id": "a60b68db-2624-4710-a33e-f20ccfbb0e1a", "schema": 1, "seq": 1, "sig": "b11d37bade954bfe5fe01030ac4d77773dd23785c9a172c6477d78a5016759ea8bdf6409ed0242aaed310ec1169f5759f86158960a11d145fb71bd748c33b50d", "staff": "ana", "store": "s002", "tax": [{"base": 333, "rate": "20", "tax": 67}], "tenders": [{"amount": 400, "type": "card"}], "total": 400, "ts": "2026-11-22T09:12:00.000Z"}', '2026-12-03T16:27:13.492Z');
INSERT INTO public.sales (id, sale_id, device, seq, kind, receipt_no, store, region, staff, ts, day, currency, total, account, refund_of, hash, raw, ingested_at) VALUES (10, '9f8518e2-2d90-4613-a008-115a398f8b6f', 'till-03', 2, 'sale', 's002-till-03-000002', 's002', 'south', 'ana', '2026-11-25T09:15:00.000Z', '2026-11-25', 'EUR', 650, NULL, NULL, '4b359a5fba8bde5ed54e0fcbfe0343d5a0414513dd8ca085cda222dfda470564', '{"change": 0, "currency": "EUR", "device": "till-03", "hash": "4b359a5fba8bde5ed54e0fcbfe0343d5a0414513dd8ca085cda222dfda470564", "kind": "sale", "lines": [{"barcode": "4006381333931", "discount": 0, "name": "Caf\u00e9 cr\u00e8me", "qty": 2, "sku": "A1", "tax_rate": "20", "total": 500, "unit_price": 250}, {"barcode": "4006381333931", "discount": 30, "name": "Brioche", "qty": 1, "sku": "B2", "tax_rate": "20", "total": 150, "unit_price": 180}], "loyalty": null, "prev_hash": "3291cf024a07c51b68c37d5f6b93a2dbd271c116553fa99fcfe2e0a56bebe589", "receipt_no": "s002-till-03-000002", "refund_of": null, "region": "south", "sale_id": "9f8518e2-2d90-4613-a008-115a398f8b6f", "schema": 1, "seq": 2, "sig": "daeded2e002e176f113a3fd83b8287e39f8772479546dac3dae63f418b82121e8bf72298bafbc561bbd00e37647c04a749956c43bce7d1d9b0327a00b9da970b", "staff": "ana", "store": "s002", "tax": [{"base": 541, "rate": "20", "tax": 109}], "tenders": [{"amount": 650, "type": "card"}], "total": 650, "ts": "2026-11-25T09:15:00.000Z"}', '2026-12-03T16:27:13.492Z');
INSERT INTO public.sales (id, sale_id, device, seq, kind, receipt_no, store, region, staff, ts, day, currency, total, account, refund_of, hash, raw, ingested_at) VALUES (11, '139e9111-9f52-4474-901f-6a827a2104b1', 'till-03', 3, 'sale', 's002-till-03-000003', 's002', 'south', 'ana', '2026-11-28T09:18:00.000Z', '2026-11-28', 'EUR', 400, NULL, NULL, 'bcaa77832e2191d16eaa026fa170fec2ffe44d0c764f85d9573f582446e7c157', '{"change": 0, "currency": "EUR", "device": "till-03", "hash": "bcaa77832e2191d16eaa026fa170fec2ffe44d0c764f85d9573f582446e7c157", "kind": "sale", "lines": [{"barcode": "4006381333931", "discount": 0, "name": "Caf\u00e9 cr\u00e8me", "qty": 1, "sku": "A1", "tax_rate": "20", "total": 250, "unit_price": 250}, {"barcode": "4006381333931", "discount": 30, "name": "Brioche", "qty": 1, "sku": "B2", "tax_rate": "20", "total": 150, "unit_price": 180}], "loyalty": null, "prev_hash": "4b359a5fba8bde5ed54e0fcbfe0343d5a0414513dd8ca085cda222dfda470564", "receipt_no": "s002-till-03-000003", "refund_of": null, "region": "south", "sale_id": "139e9111-9f52-4474-901f-6a827a2104b1", "schema": 1, "seq": 3, "sig": "036d08e9ba6ab44712c60c4ad70bfd2d10b008088f68daee2239e3637e9fae909acd83b574df300c37f6dcc87ce1b8f3bb4c206fc58ebcaa9cc784463893d103", "staff": "ana", "store": "s002", "tax": [{"base": 333, "rate": "20", "tax": 67}], "tenders": [{"amount": 400, "type": "card"}], "total": 400, "ts": "2026-11-28T09:18:00.000Z"}', '2026-12-03T16:27:13.492Z');
INSERT INTO public.sales (id, sale_id, device, seq, kind, receipt_no, store, region, staff, ts, day, currency, total, account, refund_of, hash, raw, ingested_at) VALUES (12, '1c6ad8ea-688a-485b-868a-565d9d5b5334', 'till-02', 4, 'sale', 's001-till-02-000004', 's001', 'north', 'ana', '2026-11-30T10:00:00.000Z', '2026-11-30', 'EUR', 420, '00000001', NULL, 'ed10642b597e8f39ab6c1697d3dd6008c3959272dd349bb974b7c9a0d28abe2e', '{"schema": 1, "seq": 4, "sale_id": "1c6ad8ea-688a-485b-868a-565d9d5b5334", "kind": "sale", "receipt_no": "s001-till-02-000004", "device": "till-02", "store": "s001", "region": "north", "staff": "ana", "ts": "2026-11-30T10:00:00.000Z", "currency": "EUR", "lines": [{"sku": "C3", "barcode": "4006381333931", "name": "Tarte", "qty": 1, "unit_price": 420, "discount": 0, "total": 420, "tax_rate": "20"}], "total": 420, "tax": [{"rate": "20", "base": 350, "tax": 70}], "tenders": [{"type": "card", "amount": 417}, {"type": "points", "amount": 3}], "change": 0, "loyalty": {"account": "00000001", "earned": 4, "redeemed": 3, "balance": null, "offline": false, "reservation": "70359be4f9bf4772af0aee679169fc24"}, "refund_of": null, "prev_hash": "91208914a46a16ac5532daa3b955cb363a60af86e21c71673c827e5cd7a23e2c", "hash": "ed10642b597e8f39ab6c1697d3dd6008c3959272dd349bb974b7c9a0d28abe2e", "sig": "cd4c11a979a050f4509c9864f66fb2d005330a7fc66cbcddad8b1faf01cd2b9baf95f5b651dbb805751151992173d20c9636e181bd4027a3a6d3477829b8eb07"}', '2026-12-03T16:27:13.610Z');
INSERT INTO public.sales (id, sale_id, device, seq, kind, receipt_no, store, region, staff, ts, day, currency, total, account, refund_of, hash, raw, ingested_at) VALUES (13, 'b5f72e20-0630-481c-89c6-3d161022e62b', 'till-02', 5, 'refund', 's001-till-02-000005', 's001', 'north', 'ana', '2026-11-30T16:00:00.000Z', '2026-11-30', 'EUR', -420, '00000001', '1c6ad8ea-688a-485b-868a-565d9d5b5334', 'c3ddcd5ba7a0f14cd3b64689e2df3a8ea6d9ecd8bad90c846aa17f99aa7b263f', '{"schema": 1, "seq": 5, "sale_id": "b5f72e20-0630-481c-89c6-3d161022e62b", "kind": "refund", "receipt_no": "s001-till-02-000005", "device": "till-02", "store": "s001", "region": "north", "staff": "ana", "ts": "2026-11-30T16:00:00.000Z", "currency": "EUR", "lines": [{"sku": "C3", "barcode": "4006381333931", "name": "Tarte", "qty": -1, "unit_price": 420, "discount": 0, "total": -420, "tax_rate": "20"}], "total": -420, "tax": [{"rate": "20", "base": -350, "tax": -70}], "tenders": [{"type": "card", "amount": -417}, {"type": "points", "amount": -3}], "change": 0, "loyalty": {"account": "00000001", "earned": -4, "redeemed": -3, "balance": null, "offline": false}, "refund_of": "1c6ad8ea-688a-485b-868a-565d9d5b5334", "prev_hash": "ed10642b597e8f39ab6c1697d3dd6008c3959272dd349bb974b7c9a0d28abe2e", "hash": "c3ddcd5ba7a0f14cd3b64689e2df3a8ea6d9ecd8bad90c846aa17f99aa7b263f", "sig": "1e8698c2aa32c16a99194d07711b176671898b2b5d8be8f11f0a5f35992f0dcca5fc4a408758aba45a403c861e25a83532d723a2296a16c180b0399e5ed5680c"}', '2026-12-03T16:27:13.610Z');
INSERT INTO public.sales (id, sale_id, device, seq, kind, receipt_no, store, region, staff, ts, day, currency, total, account, refund_of, hash, raw, ingested_at) VALUES (7, 'c5d66e7a-6233-4f46-a669-54b7c68cf784', 'till-02', 2, 'sale', 's001-till-02-000002', 's001', 'north', 'ana', '2026-11-24T09:14:00.000Z', '2026-11-24', 'EUR', 400, 'erased-2d224bc1', NULL, 'cd5ca254c7f1e7dcc2b45b39e6e26f4a20502c1d824f63573614de52b7ce6368', '{"change":0,"currency":"EUR","device":"till-02","hash":"cd5ca254c7f1e7dcc2b45b39e6e26f4a20502c1d824f63573614de52b7ce6368","kind":"sale","lines":[{"barcode":"4006381333931","discount":0,"name":"Café crème","qty":1,"sku":"A1","tax_rate":"20","total":250,"unit_price":250},{"barcode":"4006381333931","discount":30,"name":"Brioche","qty":1,"sku":"B2","tax_rate":"20","total":150,"unit_price":180}],"loyalty":{"account":"erased-2d224bc1","balance":null,"earned":4,"offline":false,"redeemed":0},"prev_hash":"dc6055605a94f0fa45d34177017ce085d64ff1abd9d552d15ce60f640b1c9bcb","receipt_no":"s001-till-02-000002","refund_of":null,"region":"north","sale_id":"c5d66e7a-6233-4f46-a669-54b7c68cf784","schema":1,"seq":2,"sig":"4c87e4e19b61a155e117809d8fae8f1f378017a02a2710a7c2da0b9c851317b8d7ba05dc0a8aed37817bc916bfd30323be0ad5f71fb1b5a92e1c4d7582d96105","staff":"ana","store":"s001","tax":[{"base":333,"rate":"20","tax":67}],"tenders":[{"amount":400,"type":"card"}],"total":400,"ts":"2026-11-24T09:14:00.000Z"}', '2026-12-03T16:27:13.492Z');


--
-- Data for Name: stock; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.stock (store, sku, level, version, published_version) VALUES ('s002', 'A1', -4, 1, 0);
INSERT INTO public.stock (store, sku, level, version, published_version) VALUES ('s002', 'B2', -3, 1, 0);
INSERT INTO public.stock (store, sku, level, version, published_version) VALUES ('s001', 'C3', 0, 1, 0);
INSERT INTO public.stock (store, sku, level, version, published_version) VALUES ('s001', 'A1', 40, 2, 0);
INSERT INTO public.stock (store, sku, level, version, published_version) VALUES ('s002', 'C3', 12, 1, 0);
INSERT INTO public.stock (store, sku, level, version, published_version) VALUES ('s001', 'B2', 30, 2, 0);


--
-- Data for Name: stock_moves; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.stock_moves (id, store, sku, delta, reason, ref, at) VALUES (1, 's001', 'A1', -9, 'sale', NULL, '2026-12-03T16:27:13.492Z');
INSERT INTO public.stock_moves (id, store, sku, delta, reason, ref, at) VALUES (2, 's001', 'B2', -6, 'sale', NULL, '2026-12-03T16:27:13.492Z');
INSERT INTO public.stock_moves (id, store, sku, delta, reason, ref, at) VALUES (3, 's001', 'A1', 1, 'refund', NULL, '2026-12-03T16:27:13.492Z');
INSERT INTO public.stock_moves (id, store, sku, delta, reason, ref, at) VALUES (4, 's002', 'A1', -4, 'sale', NULL, '2026-12-03T16:27:13.492Z');
INSERT INTO public.stock_moves (id, store, sku, delta, reason, ref, at) VALUES (5, 's002', 'B2', -3, 'sale', NULL, '2026-12-03T16:27:13.492Z');
INSERT INTO public.stock_moves (id, store, sku, delta, reason, ref, at) VALUES (6, 's001', 'C3', -1, 'sale', NULL, '2026-12-03T16:27:13.610Z');
INSERT INTO public.stock_moves (id, store, sku, delta, reason, ref, at) VALUES (7, 's001', 'C3', 1, 'refund', NULL, '2026-12-03T16:27:13.610Z');
INSERT INTO public.stock_moves (id, store, sku, delta, reason, ref, at) VALUES (8, 's001', 'A1', 48, 'receive', NULL, '2026-12-03T16:27:13.738Z');
INSERT INTO public.stock_moves (id, store, sku, delta, reason, ref, at) VALUES (9, 's002', 'C3', 12, 'receive', NULL, '2026-12-03T16:27:13.747Z');
INSERT INTO public.stock_moves (id, store, sku, delta, reason, ref, at) VALUES (10, 's001', 'B2', 36, 'count', NULL, '2026-12-03T16:27:13.754Z');


--
-- Data for Name: tenders; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.tenders (id, sale, type, amount) VALUES (1, 1, 'card', 400);
INSERT INTO public.tenders (id, sale, type, amount) VALUES (2, 2, 'card', 650);
INSERT INTO public.tenders (id, sale, type, amount) VALUES (3, 3, 'card', 400);
INSERT INTO public.tenders (id, sale, type, amount) VALUES (4, 4, 'card', -250);
INSERT INTO public.tenders (id, sale, type, amount) VALUES (5, 5, 'card', 0);
INSERT INTO public.tenders (id, sale, type, amount) VALUES (6, 6, 'card', 650);
INSERT INTO public.tenders (id, sale, type, amount) VALUES (7, 7, 'card', 400);
INSERT INTO public.tenders (id, sale, type, amount) VALUES (8, 8, 'card', 650);
INSERT INTO public.tenders (id, sale, type, amount) VALUES (9, 9, 'card', 400);
INSERT INTO public.tenders (id, sale, type, amount) VALUES (10, 10, 'card', 650);
INSERT INTO public.tenders (id, sale, type, amount) VALUES (11, 11, 'card', 400);
INSERT INTO public.tenders (id, sale, type, amount) VALUES (12, 12, 'card', 417);
INSERT INTO public.tenders (id, sale, type, amount) VALUES (13, 12, 'points', 3);
INSERT INTO public.tenders (id, sale, type, amount) VALUES (14, 13, 'card', -417);
INSERT INTO public.tenders (id, sale, type, amount) VALUES (15, 13, 'points', -3);


--
-- Name: consents_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.consents_id_seq', 13, true);


--
-- Name: dead_letters_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.dead_letters_id_seq', 3, true);


--
-- Name: events_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.events_id_seq', 3, true);


--
-- Name: loyalty_allocations_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.loyalty_allocations_id_seq', 6, true);


--
-- Name: loyalty_entries_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.loyalty_entries_id_seq', 17, true);


--
-- Name: loyalty_lots_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.loyalty_lots_id_seq', 10, true);


--
-- Name: sale_lines_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.sale_lines_id_seq', 21, true);


--
-- Name: sales_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.sales_id_seq', 13, true);


--
-- Name: stock_moves_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.stock_moves_id_seq', 10, true);


--
-- Name: tenders_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.tenders_id_seq', 15, true);


--
-- Name: collector_meta collector_meta_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.collector_meta
    ADD CONSTRAINT collector_meta_pkey PRIMARY KEY (key);


--
-- Name: consents consents_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.consents
    ADD CONSTRAINT consents_pkey PRIMARY KEY (id);


--
-- Name: customer_keys customer_keys_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.customer_keys
    ADD CONSTRAINT customer_keys_pkey PRIMARY KEY (account);


--
-- Name: customers customers_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.customers
    ADD CONSTRAINT customers_pkey PRIMARY KEY (account);


--
-- Name: dead_letters dead_letters_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.dead_letters
    ADD CONSTRAINT dead_letters_pkey PRIMARY KEY (id);


--
-- Name: devices devices_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.devices
    ADD CONSTRAINT devices_pkey PRIMARY KEY (id);


--
-- Name: events events_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events
    ADD CONSTRAINT events_pkey PRIMARY KEY (id);


--
-- Name: loyalty_accounts loyalty_accounts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.loyalty_accounts
    ADD CONSTRAINT loyalty_accounts_pkey PRIMARY KEY (account);


--
-- Name: loyalty_allocations loyalty_allocations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.loyalty_allocations
    ADD CONSTRAINT loyalty_allocations_pkey PRIMARY KEY (id);


--
-- Name: loyalty_cards loyalty_cards_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.loyalty_cards
    ADD CONSTRAINT loyalty_cards_pkey PRIMARY KEY (account, issue);


--
-- Name: loyalty_channels loyalty_channels_key_hash_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.loyalty_channels
    ADD CONSTRAINT loyalty_channels_key_hash_key UNIQUE (key_hash);


--
-- Name: loyalty_channels loyalty_channels_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.loyalty_channels
    ADD CONSTRAINT loyalty_channels_pkey PRIMARY KEY (name);


--
-- Name: loyalty_entries loyalty_entries_key_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.loyalty_entries
    ADD CONSTRAINT loyalty_entries_key_key UNIQUE (key);


--
-- Name: loyalty_entries loyalty_entries_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.loyalty_entries
    ADD CONSTRAINT loyalty_entries_pkey PRIMARY KEY (id);


--
-- Name: loyalty_lots loyalty_lots_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.loyalty_lots
    ADD CONSTRAINT loyalty_lots_pkey PRIMARY KEY (id);


--
-- Name: loyalty_reservations loyalty_reservations_key_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.loyalty_reservations
    ADD CONSTRAINT loyalty_reservations_key_key UNIQUE (key);


--
-- Name: loyalty_reservations loyalty_reservations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.loyalty_reservations
    ADD CONSTRAINT loyalty_reservations_pkey PRIMARY KEY (id);


--
-- Name: sale_lines sale_lines_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sale_lines
    ADD CONSTRAINT sale_lines_pkey PRIMARY KEY (id);


--
-- Name: sales sales_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sales
    ADD CONSTRAINT sales_pkey PRIMARY KEY (id);


--
-- Name: sales sales_sale_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sales
    ADD CONSTRAINT sales_sale_id_key UNIQUE (sale_id);


--
-- Name: stock_moves stock_moves_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.stock_moves
    ADD CONSTRAINT stock_moves_pkey PRIMARY KEY (id);


--
-- Name: stock stock_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.stock
    ADD CONSTRAINT stock_pkey PRIMARY KEY (store, sku);


--
-- Name: tenders tenders_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.tenders
    ADD CONSTRAINT tenders_pkey PRIMARY KEY (id);


--
-- Name: sales uq_sales_device_seq; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sales
    ADD CONSTRAINT uq_sales_device_seq UNIQUE (device, seq);


--
-- Name: ix_consents_account; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_consents_account ON public.consents USING btree (account);


--
-- Name: ix_devices_store; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_devices_store ON public.devices USING btree (store);


--
-- Name: ix_events_device; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_events_device ON public.events USING btree (device);


--
-- Name: ix_loyalty_allocations_entry; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_loyalty_allocations_entry ON public.loyalty_allocations USING btree (entry);


--
-- Name: ix_loyalty_allocations_lot; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_loyalty_allocations_lot ON public.loyalty_allocations USING btree (lot);


--
-- Name: ix_loyalty_entries_account_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_loyalty_entries_account_at ON public.loyalty_entries USING btree (account, at);


--
-- Name: ix_loyalty_lots_entry; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_loyalty_lots_entry ON public.loyalty_lots USING btree (entry);


--
-- Name: ix_loyalty_lots_open; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_loyalty_lots_open ON public.loyalty_lots USING btree (account, remaining, earned_at);


--
-- Name: ix_loyalty_reservations_open; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_loyalty_reservations_open ON public.loyalty_reservations USING btree (account, state);


--
-- Name: ix_loyalty_reservations_sale_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_loyalty_reservations_sale_id ON public.loyalty_reservations USING btree (sale_id);


--
-- Name: ix_sale_lines_sale; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_sale_lines_sale ON public.sale_lines USING btree (sale);


--
-- Name: ix_sale_lines_sku; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_sale_lines_sku ON public.sale_lines USING btree (sku);


--
-- Name: ix_sales_account; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_sales_account ON public.sales USING btree (account);


--
-- Name: ix_sales_day; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_sales_day ON public.sales USING btree (day);


--
-- Name: ix_tenders_sale; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_tenders_sale ON public.tenders USING btree (sale);


--
-- Name: loyalty_allocations loyalty_allocations_entry_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.loyalty_allocations
    ADD CONSTRAINT loyalty_allocations_entry_fkey FOREIGN KEY (entry) REFERENCES public.loyalty_entries(id);


--
-- Name: loyalty_allocations loyalty_allocations_lot_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.loyalty_allocations
    ADD CONSTRAINT loyalty_allocations_lot_fkey FOREIGN KEY (lot) REFERENCES public.loyalty_lots(id);


--
-- Name: loyalty_lots loyalty_lots_entry_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.loyalty_lots
    ADD CONSTRAINT loyalty_lots_entry_fkey FOREIGN KEY (entry) REFERENCES public.loyalty_entries(id);


--
-- Name: sale_lines sale_lines_sale_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sale_lines
    ADD CONSTRAINT sale_lines_sale_fkey FOREIGN KEY (sale) REFERENCES public.sales(id);


--
-- Name: sales sales_device_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sales
    ADD CONSTRAINT sales_device_fkey FOREIGN KEY (device) REFERENCES public.devices(id);


--
-- Name: tenders tenders_sale_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.tenders
    ADD CONSTRAINT tenders_sale_fkey FOREIGN KEY (sale) REFERENCES public.sales(id);


--
-- PostgreSQL database dump complete
--

\unrestrict mmqbkUlgZbOC173hcVA11ZXW6a0RM1hBnFs1TgMVOYrLiIqxjhrVLhceU3BwTao

