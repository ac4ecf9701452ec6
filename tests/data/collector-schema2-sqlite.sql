BEGIN TRANSACTION;
CREATE TABLE collector_meta (
	"key" VARCHAR(64) NOT NULL, 
	value VARCHAR(256) NOT NULL, 
	PRIMARY KEY ("key")
);
INSERT INTO "collector_meta" VALUES('schema_version','2');
CREATE TABLE consents (
	id INTEGER NOT NULL, 
	account VARCHAR(16) NOT NULL, 
	channel VARCHAR(8) NOT NULL, 
	granted BOOLEAN NOT NULL, 
	at VARCHAR(32) NOT NULL, 
	source VARCHAR(128) NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "consents" VALUES(1,'00000001','email',1,'2026-12-03T16:27:12.707Z','import:customers.csv');
INSERT INTO "consents" VALUES(2,'00000001','sms',1,'2026-12-03T16:27:12.707Z','import:customers.csv');
INSERT INTO "consents" VALUES(3,'00000002','email',1,'2026-12-03T16:27:12.707Z','import:customers.csv');
INSERT INTO "consents" VALUES(4,'00000002','sms',0,'2026-12-03T16:27:12.707Z','import:customers.csv');
INSERT INTO "consents" VALUES(5,'00000003','email',0,'2026-12-03T16:27:12.707Z','import:customers.csv');
INSERT INTO "consents" VALUES(6,'00000003','sms',0,'2026-12-03T16:27:12.707Z','import:customers.csv');
INSERT INTO "consents" VALUES(7,'00000004','email',0,'2026-12-03T16:27:12.707Z','import:customers.csv');
INSERT INTO "consents" VALUES(8,'00000004','sms',1,'2026-12-03T16:27:12.707Z','import:customers.csv');
INSERT INTO "consents" VALUES(11,'00000006','email',1,'2026-12-03T16:27:12.707Z','import:customers.csv');
INSERT INTO "consents" VALUES(12,'00000006','sms',1,'2026-12-03T16:27:12.707Z','import:customers.csv');
INSERT INTO "consents" VALUES(13,'00000007','email',1,'2026-12-03T16:27:12.750Z','kiosk:kiosk-01');
CREATE TABLE customer_keys (
	account VARCHAR(16) NOT NULL, 
	wrapped BLOB NOT NULL, 
	created_at VARCHAR(32) NOT NULL, 
	PRIMARY KEY (account)
);
INSERT INTO "customer_keys" VALUES('00000001',X'CAEE05B11DB4E45D391267B72315569D17880E34ABCD8EB0F987EDE32A3D0EC1017EF94894CC698549ABF479B5B45A9F6450B73D46074A8A1DD948B9','2026-12-03T16:27:12.723Z');
INSERT INTO "customer_keys" VALUES('00000002',X'E9B5807FF61D1A775AD9D2E51E9899E68363632B58EF5DA91774005B4F11B5F0CB12816FD36BF0AF59991F2BE335E0D9B0414DEB0FCDA3D013B6A442','2026-12-03T16:27:12.736Z');
INSERT INTO "customer_keys" VALUES('00000003',X'4B2765079E804FFD4BDF211B35798BDFACCA3B1FA520959A6FD3DF85B42565DD8778D874F14E005A53FCF3DC0A88782B9D1C7528D532DFE5998BE486','2026-12-03T16:27:12.740Z');
INSERT INTO "customer_keys" VALUES('00000004',X'00A1C4A9CF21C50FD4F1E826D06518BB4DD414573879EDFA57DF7CC545755A0A58F27305C089D15C345894F800F6DA4AA9CA366E73BE7586A1620939','2026-12-03T16:27:12.742Z');
INSERT INTO "customer_keys" VALUES('00000006',X'BFB41477F8ECB399BD225E49EF6052F66E3A29175893A671881FE6509AFCD77340DAD06D8FD4912836A2C6128808E4CEE5B95F404759FCC5445998FF','2026-12-03T16:27:12.747Z');
INSERT INTO "customer_keys" VALUES('00000007',X'4FC477CEB79CC7D75A334F8FAA515E960FE8D4DED9D6FBBE43B2803E9E649FFA1D2E99F16D8380FD454FA65832F3A85A71876476D49B3F9D786D9FC1','2026-12-03T16:27:12.758Z');
CREATE TABLE customers (
	account VARCHAR(16) NOT NULL, 
	sealed BLOB NOT NULL, 
	source VARCHAR(128) NOT NULL, 
	created_at VARCHAR(32) NOT NULL, 
	updated_at VARCHAR(32) NOT NULL, 
	PRIMARY KEY (account)
);
INSERT INTO "customers" VALUES('00000001',X'71F6C61A70854AA0E32C5CC0A6B67DEE02C2116AE0AD0B8E1754E0619120742D508AECFA496C2A9283E9ED011CEE20285B6B503747837509717E3D64A71B0ABB05EFCDC107702682C6075191910B341180E0BB0E3A1367BB5612103475505F19C0E14CC76893E09CC80A91553B62EC65368A47391F53E94326A00BF50CD4A8CB51DB6D0831EE7C852AD60EE25B0B','import:customers.csv','2026-12-03T16:27:12.727Z','2026-12-03T16:27:12.727Z');
INSERT INTO "customers" VALUES('00000002',X'A0AA37AF8AEB7519610CCC14BFB3A66E125368C0402B9B9D00BC4E6F0CF6B504D5C1F2FEABB16C1E2FA1FD37AAAA27D71C1572EF6D6B7CCBCFA620876205FBEF725BA89C68B0B6707302FDEDC37943B3F7D3983C356FEDBA55114F68E9DAB4665B7F75A84A8516C23B6D41EC62052659A36657B804','import:customers.csv','2026-12-03T16:27:12.737Z','2026-12-03T16:27:12.737Z');
INSERT INTO "customers" VALUES('00000003',X'DB60B3EE6E76E9E267E7656BA810118D2C39EF9CB69CF29273CB7C3C2184C8A34CF5B0428C29F913F789FAE8CD00FDC3DE5B7B0C33E0831E65AE6D4150049B74C61F2DE3AAEFD3682404AE919DDB07481CB2F35ADCFAB3A5A60D313F527B2A9EA014287EB921F781B7E4679D0E875AB0CA8ECE6D01662A28D1581724F9','import:customers.csv','2026-12-03T16:27:12.740Z','2026-12-03T16:27:12.740Z');
INSERT INTO "customers" VALUES('00000004',X'1A4DF4A6E053EB0645D9E3B351E746B32DACF3EF00117E19F74B6F3051F7ED4CEFD545DD567580041970249ADC97574B8166D0683C535CBCA6035E11C3AE9850F15AF26E7D4248AEDA6633217E5AD38135400A0F3B17808C3B12A0DCBC83005ED60FA94B76CFD3D0B942E53508272E9E86C6103509BACDEB8EEDFAA9CB0CA59104EA18DC383C16A95C441E','import:customers.csv','2026-12-03T16:27:12.743Z','2026-12-03T16:27:12.743Z');
INSERT INTO "customers" VALUES('00000006',X'9514770A963CBD3A3EF914C5461D6FCC27203C74165DB3D55FB4AE2CEC3B22DB12A1DCE6B1FBDD49F1E0E14D6E45E6775985B436F719772BE944BB7C178CA862A18444BE512C02985D65659951EFDCA86EE63CD565D42E1BCD4035484395908EF1138F12D4B722D68956EC1834633F1968A8E7','import:customers.csv','2026-12-03T16:27:12.747Z','2026-12-03T16:27:12.747Z');
INSERT INTO "customers" VALUES('00000007',X'2F7154136A19278524367AAD332B1316B98A748EF88014E1E1DAE43CC1CF2DBD76584E122A4BD3C341DCAE6FB89707A03E4A295FEAA2F8058EC71BAA37974BAA2EBB0775AF9C486915D8876FC7161CA2F4BDD49A372AF7320B0428599932E5CE50076627163E3818BF453C733505BB4A51E06078DE9E63','kiosk:kiosk-01','2026-12-03T16:27:12.758Z','2026-12-03T16:27:12.758Z');
CREATE TABLE dead_letters (
	id INTEGER NOT NULL, 
	topic VARCHAR(256) NOT NULL, 
	payload BLOB NOT NULL, 
	size INTEGER NOT NULL, 
	reason TEXT NOT NULL, 
	received_at VARCHAR(32) NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "dead_letters" VALUES(1,'pos/v1/s001/till-01/sales',X'006E6F74206A736F6E',9,'JSON is malformed: invalid character (byte 0)','2026-12-03T16:27:12.795Z');
INSERT INTO "dead_letters" VALUES(2,'pos/v1/s001/till-01/weather',X'7B7D',2,'topic leaf ''weather'' is not one the collector reads','2026-12-03T16:27:12.795Z');
INSERT INTO "dead_letters" VALUES(3,'pos/v1/s002/till-03/sales',X'7B22736368656D61223A20312C2022736571223A20312C202273616C655F6964223A202234336530306134352D373732332D343931622D613839612D373635316134386332336137222C20226B696E64223A202273616C65222C2022726563656970745F6E6F223A2022733030312D74696C6C2D30312D303030303031222C2022646576696365223A202274696C6C2D3031222C202273746F7265223A202273303031222C2022726567696F6E223A20226E6F727468222C20227374616666223A2022616E61222C20227473223A2022323032342D30362D30315430393A31303A30302E3030305A222C202263757272656E6379223A2022455552222C20226C696E6573223A205B7B22736B75223A20224131222C2022626172636F6465223A202234303036333831333333393331222C20226E616D65223A20224361665C75303065392063725C75303065386D65222C2022717479223A20312C2022756E69745F7072696365223A203235302C2022646973636F756E74223A20302C2022746F74616C223A203235302C20227461785F72617465223A20223230227D2C207B22736B75223A20224232222C2022626172636F6465223A202234303036333831333333393331222C20226E616D65223A20224272696F636865222C2022717479223A20312C2022756E69745F7072696365223A203138302C2022646973636F756E74223A2033302C2022746F74616C223A203135302C20227461785F72617465223A20223230227D5D2C2022746F74616C223A203430302C2022746178223A205B7B2272617465223A20223230222C202262617365223A203333332C2022746178223A2036377D5D2C202274656E64657273223A205B7B2274797065223A202263617264222C2022616D6F756E74223A203430307D5D2C20226368616E6765223A20302C20226C6F79616C7479223A207B226163636F756E74223A20223030303030303031222C20226561726E6564223A20342C202272656465656D6564223A20302C202262616C616E6365223A206E756C6C2C20226F66666C696E65223A2066616C73657D2C2022726566756E645F6F66223A206E756C6C2C2022707265765F68617368223A202230303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030222C202268617368223A202264373462633039643439386331383830396361313935663366303062383133636533623536326665373038636138613839633361636162306330643861636132222C2022736967223A20226333396664643963393932323961376663646239666437326136643038393930646161303932313833666634326334626334376632333438323132346634653633363430326535613163323531353835346435646339343932323534623238376562633631303862373331356236306365353933393631323936623131383039227D',1090,'payload device ''till-01'' is not the topic''s ''till-03''','2026-12-03T16:27:12.795Z');
CREATE TABLE devices (
	id VARCHAR(32) NOT NULL, 
	store VARCHAR(32) NOT NULL, 
	region VARCHAR(64) NOT NULL, 
	public_key TEXT, 
	first_seen VARCHAR(32) NOT NULL, 
	last_seen VARCHAR(32) NOT NULL, 
	version VARCHAR(64) NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	last_seq BIGINT NOT NULL, 
	last_hash VARCHAR(64) NOT NULL, 
	outbox_depth INTEGER, 
	printer VARCHAR(64), 
	telemetry JSON, 
	PRIMARY KEY (id)
);
INSERT INTO "devices" VALUES('till-01','s001','x','-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEA0fCLm5wG+1D59Oc/YReCdwMRa8IqjwxEdOKvFrDRtF0=
-----END PUBLIC KEY-----
','2026-12-03T16:27:12.795Z','2026-12-03T16:27:12.795Z','1.4.2','online',5,'ecbb8f2a044b0cf80800e0e2fdd59e244aa2a5a85989bbae359aed5d84440d48',0,'ok','{"ts":"2026-11-30T12:00:00.000Z","last_seq":5,"scanner":"ok","drawer":"closed","disk_free":12345678901,"uptime":86400.5}');
INSERT INTO "devices" VALUES('till-02','s001','x','-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEATlg0ikyWCpHWy8EAtiGu9+9dzU6gsGY1W28VW7NgWYE=
-----END PUBLIC KEY-----
','2026-12-03T16:27:12.795Z','2026-12-03T16:27:12.942Z','1.4.2','online',5,'2c7b8afd12315f5475ebc985ab9247530e109f71a5f7c9e880f525aae089f8de',0,'ok','{"ts":"2026-11-30T12:00:00.000Z","last_seq":3,"scanner":"ok","drawer":"closed","disk_free":12345678901,"uptime":86400.5}');
INSERT INTO "devices" VALUES('till-03','s002','x','-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAD3MTXhKpO7To8k/KNXqKB4CZgUTPPBZ5ikxLkqql+ps=
-----END PUBLIC KEY-----
','2026-12-03T16:27:12.795Z','2026-12-03T16:27:12.795Z','1.4.2','online',3,'3a3b039667d360ad8c2d15324f8481879b4bb51aafaeccc7eb928572783bd4a3',0,'paper_out','{"ts":"2026-11-30T12:00:00.000Z","last_seq":3,"scanner":"ok","drawer":"closed","disk_free":12345678901,"uptime":86400.5}');
CREATE TABLE events (
	id INTEGER NOT NULL, 
	device VARCHAR(32) NOT NULL, 
	kind VARCHAR(64) NOT NULL, 
	ts VARCHAR(32) NOT NULL, 
	detail JSON NOT NULL, 
	received_at VARCHAR(32) NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "events" VALUES(1,'till-01','drawer_open','2026-11-30T12:01:00.000Z','{"s":3}','2026-12-03T16:27:12.795Z');
INSERT INTO "events" VALUES(2,'till-02','drawer_open','2026-11-30T12:01:00.000Z','{"s":3}','2026-12-03T16:27:12.795Z');
INSERT INTO "events" VALUES(3,'till-03','drawer_open','2026-11-30T12:01:00.000Z','{"s":3}','2026-12-03T16:27:12.795Z');
CREATE TABLE loyalty_accounts (
	account VARCHAR(16) NOT NULL, 
	balance BIGINT NOT NULL, 
	overdrawn BIGINT NOT NULL, 
	issue INTEGER NOT NULL, 
	next_expiry VARCHAR(32), 
	updated_at VARCHAR(32) NOT NULL, 
	PRIMARY KEY (account)
);
INSERT INTO "loyalty_accounts" VALUES('00000007',0,0,0,NULL,'2026-12-03T16:27:12.750Z');
INSERT INTO "loyalty_accounts" VALUES('00000002',6,0,1,'2028-11-27T09:17:00.000Z','2026-12-03T16:27:12.924Z');
INSERT INTO "loyalty_accounts" VALUES('00000001',4,0,0,'2028-11-26T09:16:00.000Z','2026-12-03T16:27:12.952Z');
INSERT INTO "loyalty_accounts" VALUES('00000004',3,0,0,'2028-11-23T09:13:00.000Z','2026-12-03T16:27:12.916Z');
INSERT INTO "loyalty_accounts" VALUES('erased-c169a517',4,0,0,'2028-11-24T09:14:00.000Z','2026-12-03T16:27:12.923Z');
INSERT INTO "loyalty_accounts" VALUES('00000003',25,0,0,'2028-12-03T16:27:12.963Z','2026-12-03T16:27:12.967Z');
INSERT INTO "loyalty_accounts" VALUES('00000006',50,0,0,'2028-12-03T16:27:12.971Z','2026-12-03T16:27:12.971Z');
CREATE TABLE loyalty_allocations (
	id INTEGER NOT NULL, 
	entry INTEGER NOT NULL, 
	lot INTEGER NOT NULL, 
	points BIGINT NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(entry) REFERENCES loyalty_entries (id), 
	FOREIGN KEY(lot) REFERENCES loyalty_lots (id)
);
INSERT INTO "loyalty_allocations" VALUES(1,4,1,4);
INSERT INTO "loyalty_allocations" VALUES(2,6,2,3);
INSERT INTO "loyalty_allocations" VALUES(3,9,4,6);
INSERT INTO "loyalty_allocations" VALUES(4,11,3,3);
INSERT INTO "loyalty_allocations" VALUES(5,13,7,4);
INSERT INTO "loyalty_allocations" VALUES(6,16,9,20);
CREATE TABLE loyalty_cards (
	account VARCHAR(16) NOT NULL, 
	issue INTEGER NOT NULL, 
	code VARCHAR(13) NOT NULL, 
	issued_at VARCHAR(32) NOT NULL, 
	blocked_at VARCHAR(32), 
	PRIMARY KEY (account, issue)
);
INSERT INTO "loyalty_cards" VALUES('00000001',0,'2900000000018','2026-12-03T16:27:12.707Z',NULL);
INSERT INTO "loyalty_cards" VALUES('00000002',0,'2900000000025','2026-12-03T16:27:12.707Z','2026-12-03T16:27:12.762Z');
INSERT INTO "loyalty_cards" VALUES('00000003',0,'2900000000032','2026-12-03T16:27:12.707Z',NULL);
INSERT INTO "loyalty_cards" VALUES('00000004',0,'2900000000049','2026-12-03T16:27:12.707Z',NULL);
INSERT INTO "loyalty_cards" VALUES('erased-c169a517',0,'','2026-12-03T16:27:12.707Z',NULL);
INSERT INTO "loyalty_cards" VALUES('00000006',0,'2900000000063','2026-12-03T16:27:12.707Z',NULL);
INSERT INTO "loyalty_cards" VALUES('00000007',0,'2900000000070','2026-12-03T16:27:12.750Z',NULL);
INSERT INTO "loyalty_cards" VALUES('00000002',1,'2901000000022','2026-12-03T16:27:12.762Z',NULL);
CREATE TABLE loyalty_channels (
	name VARCHAR(32) NOT NULL, 
	key_hash VARCHAR(64) NOT NULL, 
	created_at VARCHAR(32) NOT NULL, 
	revoked_at VARCHAR(32), 
	PRIMARY KEY (name), 
	UNIQUE (key_hash)
);
INSERT INTO "loyalty_channels" VALUES('webshop','7443e9f1b4dc14dd1e688f183ccadc32ce05dc881b47994b377adcb88d6037ab','2026-12-03T16:27:13.006Z',NULL);
INSERT INTO "loyalty_channels" VALUES('app','e833d41fd43bdf1f95d07b36d1169e13c699d0db3e1cff094a553dc92929da36','2026-12-03T16:27:13.008Z','2026-12-03T16:27:13.011Z');
CREATE TABLE loyalty_entries (
	id INTEGER NOT NULL, 
	"key" VARCHAR(200) NOT NULL, 
	account VARCHAR(16) NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	points BIGINT NOT NULL, 
	balance BIGINT NOT NULL, 
	spend BIGINT NOT NULL, 
	at VARCHAR(32) NOT NULL, 
	source VARCHAR(128) NOT NULL, 
	detail JSON NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE ("key")
);
INSERT INTO "loyalty_entries" VALUES(1,'enrol:kiosk-01:1','00000007','enrol',0,0,0,'2026-12-03T16:27:12.750Z','kiosk:kiosk-01','{"card":"2900000000070"}');
INSERT INTO "loyalty_entries" VALUES(2,'sale:43e00a45-7723-491b-a89a-7651a48c23a7:earn','00000001','earn',4,4,400,'2026-12-03T16:27:12.903Z','sale:43e00a45-7723-491b-a89a-7651a48c23a7','{"paid":400,"currency":"EUR","multiplier":"1","till_earned":4,"offline":false,"device":"till-01"}');
INSERT INTO "loyalty_entries" VALUES(3,'sale:81719489-31a1-445c-ac7c-dc6fa56cf3c6:earn','00000004','earn',6,6,650,'2026-12-03T16:27:12.908Z','sale:81719489-31a1-445c-ac7c-dc6fa56cf3c6','{"paid":650,"currency":"EUR","multiplier":"1","till_earned":6,"offline":false,"device":"till-01"}');
INSERT INTO "loyalty_entries" VALUES(4,'expire:lot:1','00000001','expire',-4,0,0,'2026-12-03T16:27:12.910Z','sale:43e00a45-7723-491b-a89a-7651a48c23a7','{"lot":1,"expires_at":"2026-06-01T09:10:00.000Z"}');
INSERT INTO "loyalty_entries" VALUES(5,'sale:a30974a0-99fe-4c57-9f56-1d26f7cc7eac:earn','00000001','earn',4,4,400,'2026-12-03T16:27:12.910Z','sale:a30974a0-99fe-4c57-9f56-1d26f7cc7eac','{"paid":400,"currency":"EUR","multiplier":"1","till_earned":4,"offline":false,"device":"till-01"}');
INSERT INTO "loyalty_entries" VALUES(6,'sale:3c540349-853a-4e11-afcd-0f823422a00d:reverse','00000004','reverse',-3,3,-250,'2026-12-03T16:27:12.916Z','refund_of:81719489-31a1-445c-ac7c-dc6fa56cf3c6','{"paid":250,"refund_of":"81719489-31a1-445c-ac7c-dc6fa56cf3c6","till_earned":-2}');
INSERT INTO "loyalty_entries" VALUES(7,'sale:96ffaad8-780f-40fa-a78a-6d95304e000b:earn','00000002','earn',6,6,650,'2026-12-03T16:27:12.921Z','sale:96ffaad8-780f-40fa-a78a-6d95304e000b','{"paid":650,"currency":"EUR","multiplier":"1","till_earned":6,"offline":false,"device":"till-02"}');
INSERT INTO "loyalty_entries" VALUES(8,'sale:05b91801-2b1a-4ab3-9a8b-3dcb0b57a785:earn','erased-c169a517','earn',4,4,400,'2026-12-03T16:27:12.923Z','sale:05b91801-2b1a-4ab3-9a8b-3dcb0b57a785','{"paid":400,"currency":"EUR","multiplier":"1","till_earned":4,"offline":false,"device":"till-02"}');
INSERT INTO "loyalty_entries" VALUES(9,'expire:lot:4','00000002','expire',-6,0,0,'2026-12-03T16:27:12.924Z','sale:96ffaad8-780f-40fa-a78a-6d95304e000b','{"lot":4,"expires_at":"2026-06-01T09:11:00.000Z"}');
INSERT INTO "loyalty_entries" VALUES(10,'sale:7c82f61d-11b5-46be-abba-cd86915e1dfd:earn','00000002','earn',6,6,650,'2026-12-03T16:27:12.924Z','sale:7c82f61d-11b5-46be-abba-cd86915e1dfd','{"paid":650,"currency":"EUR","multiplier":"1","till_earned":6,"offline":false,"device":"till-02"}');
INSERT INTO "loyalty_entries" VALUES(11,'sale:2136002b-b394-434c-b767-862311843d81:redeem','00000001','redeem',-3,1,0,'2026-12-03T16:27:12.943Z','sale:2136002b-b394-434c-b767-862311843d81','{"reservation":"48d12473ae164462916e54c002cfdab6","offline":false,"device":"till-02"}');
INSERT INTO "loyalty_entries" VALUES(12,'sale:2136002b-b394-434c-b767-862311843d81:earn','00000001','earn',4,5,417,'2026-12-03T16:27:12.943Z','sale:2136002b-b394-434c-b767-862311843d81','{"paid":417,"currency":"EUR","multiplier":"1","till_earned":4,"offline":false,"device":"till-02"}');
INSERT INTO "loyalty_entries" VALUES(13,'sale:d3cfcbe9-7b50-413f-8444-033c513571b0:reverse','00000001','reverse',-4,1,-417,'2026-12-03T16:27:12.952Z','refund_of:2136002b-b394-434c-b767-862311843d81','{"paid":417,"refund_of":"2136002b-b394-434c-b767-862311843d81","till_earned":-4}');
INSERT INTO "loyalty_entries" VALUES(14,'sale:d3cfcbe9-7b50-413f-8444-033c513571b0:giveback','00000001','giveback',3,4,0,'2026-12-03T16:27:12.952Z','refund_of:2136002b-b394-434c-b767-862311843d81','{"refund_of":"2136002b-b394-434c-b767-862311843d81","till_redeemed":-3}');
INSERT INTO "loyalty_entries" VALUES(15,'web:shop:o-1','00000003','earn',45,45,4599,'2026-12-03T16:27:12.963Z','web:shop','{"paid":4599,"currency":"EUR","multiplier":"1"}');
INSERT INTO "loyalty_entries" VALUES(16,'web:shop:o-2','00000003','redeem',-20,25,0,'2026-12-03T16:27:12.967Z','web:shop','{}');
INSERT INTO "loyalty_entries" VALUES(17,'goodwill:2026-12-01','00000006','earn',50,50,0,'2026-12-03T16:27:12.971Z','staff:ana','{}');
CREATE TABLE loyalty_lots (
	id INTEGER NOT NULL, 
	entry INTEGER NOT NULL, 
	account VARCHAR(16) NOT NULL, 
	points BIGINT NOT NULL, 
	remaining BIGINT NOT NULL, 
	earned_at VARCHAR(32) NOT NULL, 
	expires_at VARCHAR(32), 
	source VARCHAR(128) NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(entry) REFERENCES loyalty_entries (id)
);
INSERT INTO "loyalty_lots" VALUES(1,2,'00000001',4,0,'2024-06-01T09:10:00.000Z','2026-06-01T09:10:00.000Z','sale:43e00a45-7723-491b-a89a-7651a48c23a7');
INSERT INTO "loyalty_lots" VALUES(2,3,'00000004',6,3,'2026-11-23T09:13:00.000Z','2028-11-23T09:13:00.000Z','sale:81719489-31a1-445c-ac7c-dc6fa56cf3c6');
INSERT INTO "loyalty_lots" VALUES(3,5,'00000001',4,1,'2026-11-26T09:16:00.000Z','2028-11-26T09:16:00.000Z','sale:a30974a0-99fe-4c57-9f56-1d26f7cc7eac');
INSERT INTO "loyalty_lots" VALUES(4,7,'00000002',6,0,'2024-06-01T09:11:00.000Z','2026-06-01T09:11:00.000Z','sale:96ffaad8-780f-40fa-a78a-6d95304e000b');
INSERT INTO "loyalty_lots" VALUES(5,8,'erased-c169a517',4,4,'2026-11-24T09:14:00.000Z','2028-11-24T09:14:00.000Z','sale:05b91801-2b1a-4ab3-9a8b-3dcb0b57a785');
INSERT INTO "loyalty_lots" VALUES(6,10,'00000002',6,6,'2026-11-27T09:17:00.000Z','2028-11-27T09:17:00.000Z','sale:7c82f61d-11b5-46be-abba-cd86915e1dfd');
INSERT INTO "loyalty_lots" VALUES(7,12,'00000001',4,0,'2026-11-30T10:00:00.000Z','2028-11-30T10:00:00.000Z','sale:2136002b-b394-434c-b767-862311843d81');
INSERT INTO "loyalty_lots" VALUES(8,14,'00000001',3,3,'2026-12-03T16:27:12.952Z','2028-12-03T16:27:12.952Z','refund_of:2136002b-b394-434c-b767-862311843d81');
INSERT INTO "loyalty_lots" VALUES(9,15,'00000003',45,25,'2026-12-03T16:27:12.963Z','2028-12-03T16:27:12.963Z','web:shop');
INSERT INTO "loyalty_lots" VALUES(10,17,'00000006',50,50,'2026-12-03T16:27:12.971Z','2028-12-03T16:27:12.971Z','staff:ana');
CREATE TABLE loyalty_reservations (
	id VARCHAR(32) NOT NULL, 
	"key" VARCHAR(200) NOT NULL, 
	account VARCHAR(16) NOT NULL, 
	points BIGINT NOT NULL, 
	device VARCHAR(64) NOT NULL, 
	sale_id VARCHAR(64), 
	state VARCHAR(12) NOT NULL, 
	created_at VARCHAR(32) NOT NULL, 
	expires_at VARCHAR(32) NOT NULL, 
	entry BIGINT, 
	PRIMARY KEY (id), 
	UNIQUE ("key")
);
INSERT INTO "loyalty_reservations" VALUES('48d12473ae164462916e54c002cfdab6','hold:till-02:1','00000001',3,'till-02',NULL,'committed','2026-12-03T16:27:12.935Z','2026-12-03T16:32:12.935Z',11);
INSERT INTO "loyalty_reservations" VALUES('9eec8f4e7c344a349cacf32055d9fb6c','hold:till-01:2','00000006',10,'till-01',NULL,'released','2026-12-03T16:27:12.976Z','2026-12-03T16:32:12.976Z',NULL);
INSERT INTO "loyalty_reservations" VALUES('9dec5a6bc0c043f59ab5c2752702d8ae','hold:till-01:3','00000006',15,'till-01','s-offline','held','2026-12-03T16:27:12.983Z','2026-12-10T16:27:12.986Z',NULL);
INSERT INTO "loyalty_reservations" VALUES('1af382f692bb485f8d2061e7ff4d026f','hold:till-03:4','00000003',7,'till-03',NULL,'held','2026-12-03T16:27:12.989Z','2026-12-03T16:32:12.989Z',NULL);
CREATE TABLE sale_lines (
	id INTEGER NOT NULL, 
	sale INTEGER NOT NULL, 
	line_no INTEGER NOT NULL, 
	sku VARCHAR(64) NOT NULL, 
	name VARCHAR(256) NOT NULL, 
	qty INTEGER NOT NULL, 
	unit_price BIGINT NOT NULL, 
	discount BIGINT NOT NULL, 
	total BIGINT NOT NULL, 
	tax_rate VARCHAR(16) NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(sale) REFERENCES sales (id)
);
INSERT INTO "sale_lines" VALUES(1,1,1,'A1','Café crème',1,250,0,250,'20');
INSERT INTO "sale_lines" VALUES(2,1,2,'B2','Brioche',1,180,30,150,'20');
INSERT INTO "sale_lines" VALUES(3,2,1,'A1','Café crème',2,250,0,500,'20');
INSERT INTO "sale_lines" VALUES(4,2,2,'B2','Brioche',1,180,30,150,'20');
INSERT INTO "sale_lines" VALUES(5,3,1,'A1','Café crème',1,250,0,250,'20');
INSERT INTO "sale_lines" VALUES(6,3,2,'B2','Brioche',1,180,30,150,'20');
INSERT INTO "sale_lines" VALUES(7,4,1,'A1','Café crème',-1,250,0,-250,'20');
INSERT INTO "sale_lines" VALUES(8,6,1,'A1','Café crème',2,250,0,500,'20');
INSERT INTO "sale_lines" VALUES(9,6,2,'B2','Brioche',1,180,30,150,'20');
INSERT INTO "sale_lines" VALUES(10,7,1,'A1','Café crème',1,250,0,250,'20');
INSERT INTO "sale_lines" VALUES(11,7,2,'B2','Brioche',1,180,30,150,'20');
INSERT INTO "sale_lines" VALUES(12,8,1,'A1','Café crème',2,250,0,500,'20');
INSERT INTO "sale_lines" VALUES(13,8,2,'B2','Brioche',1,180,30,150,'20');
INSERT INTO "sale_lines" VALUES(14,9,1,'A1','Café crème',1,250,0,250,'20');
INSERT INTO "sale_lines" VALUES(15,9,2,'B2','Brioche',1,180,30,150,'20');
INSERT INTO "sale_lines" VALUES(16,10,1,'A1','Café crème',2,250,0,500,'20');
INSERT INTO "sale_lines" VALUES(17,10,2,'B2','Brioche',1,180,30,150,'20');
INSERT INTO "sale_lines" VALUES(18,11,1,'A1','Café crème',1,250,0,250,'20');
INSERT INTO "sale_lines" VALUES(19,11,2,'B2','Brioche',1,180,30,150,'20');
INSERT INTO "sale_lines" VALUES(20,12,1,'C3','Tarte',1,420,0,420,'20');
INSERT INTO "sale_lines" VALUES(21,13,1,'C3','Tarte',-1,420,0,-420,'20');
CREATE TABLE sales (
	id INTEGER NOT NULL, 
	sale_id VARCHAR(64) NOT NULL, 
	device VARCHAR(32) NOT NULL, 
	seq BIGINT NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	receipt_no VARCHAR(128) NOT NULL, 
	store VARCHAR(32) NOT NULL, 
	region VARCHAR(64) NOT NULL, 
	staff VARCHAR(64) NOT NULL, 
	ts VARCHAR(32) NOT NULL, 
	day VARCHAR(10) NOT NULL, 
	currency VARCHAR(3) NOT NULL, 
	total BIGINT NOT NULL, 
	account VARCHAR(16), 
	refund_of VARCHAR(64), 
	hash VARCHAR(64) NOT NULL, 
	raw JSON NOT NULL, 
	ingested_at VARCHAR(32) NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_sales_device_seq UNIQUE (device, seq), 
	UNIQUE (sale_id), 
	FOREIGN KEY(device) REFERENCES devices (id)
);
INSERT INTO "sales" VALUES(1,'43e00a45-7723-491b-a89a-7651a48c23a7','till-01',1,'sale','s001-till-01-000001','s001','north','ana','2024-06-01T09:10:00.000Z','2024-06-01','EUR',400,'00000001',NULL,'d74bc09d498c18809ca195f3f00b813ce3b562fe708ca8a89c3acab0c0d8aca2','{"change": 0, "currency": "EUR", "device": "till-01", "hash": "d74bc09d498c18809ca195f3f00b813ce3b562fe708ca8a89c3acab0c0d8aca2", "kind": "sale", "lines": [{"barcode": "4006381333931", "discount": 0, "name": "Caf\u00e9 cr\u00e8me", "qty": 1, "sku": "A1", "tax_rate": "20", "total": 250, "unit_price": 250}, {"barcode": "4006381333931", "discount": 30, "name": "Brioche", "qty": 1, "sku": "B2", "tax_rate": "20", "total": 150, "unit_price": 180}], "loyalty": {"account": "00000001", "balance": null, "earned": 4, "offline": false, "redeemed": 0}, "prev_hash": "0000000000000000000000000000000000000000000000000000000000000000", "receipt_no": "s001-till-01-000001", "refund_of": null, "region": "north", "sale_id": "43e00a45-7723-491b-a89a-7651a48c23a7", "schema": 1, "seq": 1, "sig": "c39fdd9c99229a7fcdb9fd72a6d08990daa092183ff42c4bc47f23482124f4e636402e5a1c2515854d5dc9492254b287ebc6108b7315b60ce593961296b11809", "staff": "ana", "store": "s001", "tax": [{"base": 333, "rate": "20", "tax": 67}], "tenders": [{"amount": 400, "type": "card"}], "total": 400, "ts": "2024-06-01T09:10:00.000Z"}','2026-12-03T16:27:12.795Z');
INSERT INTO "sales" VALUES(2,'81719489-31a1-445c-ac7c-dc6fa56cf3c6','till-01',2,'sale','s001-till-01-000002','s001','north','ana','2026-11-23T09:13:00.000Z','2026-11-23','EUR',650,'00000004',NULL,'0b3b8a19f0167df48f86bd1d587a794cbc512703a8e46b6a5f97b5efc005a7c4','{"change": 0, "currency": "EUR", "device": "till-01", "hash": "0b3b8a19f0167df48f86bd1d587a794cbc512703a8e46b6a5f97b5efc005a7c4", "kind": "sale", "lines": [{"barcode": "4006381333931", "discount": 0, "name": "Caf\u00e9 cr\u00e8me", "qty": 2, "sku": "A1", "tax_rate": "20", "total": 500, "unit_price": 250}, {"barcode": "4006381333931", "discount": 30, "name": "Brioche", "qty": 1, "sku": "B2", "tax_rate": "20", "total": 150, "unit_price": 180}], "loyalty": {"account": "00000004", "balance": null, "earned": 6, "offline": false, "redeemed": 0}, "prev_hash": "d74bc09d498c18809ca195f3f00b813ce3b562fe708ca8a89c3acab0c0d8aca2", "receipt_no": "s001-till-01-000002", "refund_of": null, "region": "north", "sale_id": "81719489-31a1-445c-ac7c-dc6fa56cf3c6", "schema": 1, "seq": 2, "sig": "b33167e54dab3adfc95a1783a3e64ed47483225f1b81177ef0ffe8fe99872fe09a2bd2821a00dc6dbc346fef055a1723d1c60936271f497f6bd3f514f891cd0a", "staff": "ana", "store": "s001", "tax": [{"base": 541, "rate": "20", "tax": 109}], "tenders": [{"amount": 650, "type": "card"}], "total": 650, "ts": "2026-11-23T09:13:00.000Z"}','2026-12-03T16:27:12.795Z');
INSERT INTO "sales" VALUES(3,'a30974a0-99fe-4c57-9f56-1d26f7cc7eac','till-01',3,'sale','s001-till-01-000003','s001','north','ana','2026-11-26T09:16:00.000Z','2026-11-26','EUR',400,'00000001',NULL,'27c59065e100dc5347fe2fe3557f154ceca9a0463e94dbdfc911fcf15cee308c','{"change": 0, "currency": "EUR", "device": "till-01", "hash": "27c59065e100dc5347fe2fe3557f154ceca9a0463e94dbdfc911fcf15cee308c", "kind": "sale", "lines": [{"barcode": "4006381333931", "discount": 0, "name": "Caf\u00e9 cr\u00e8me", "qty": 1, "sku": "A1", "tax_rate": "20", "total": 250, "unit_price": 250}, {"barcode": "4006381333931", "discount": 30, "name": "Brioche", "qty": 1, "sku": "B2", "tax_rate": "20", "total": 150, "unit_price": 180}], "loyalty": {"account": "00000001", "balance": null, "earned": 4, "offline": false, "redeemed": 0}, "prev_hash": "0b3b8a19f0167df48f86bd1d587a794cbc512703a8e46b6a5f97b5efc005a7c4", "receipt_no": "s001-till-01-000003", "refund_of": null, "region": "north", "sale_id": "a30974a0-99fe-4c57-9f56-1d26f7cc7eac", "schema": 1, "seq": 3, "sig": "95af9c56ef0957a18167d1d3a5a9451cd98cece86655003650270f3b8f379a7faf3429e2e9bc4309381f4417493de0a264b56a7a7d2888f25cbc8093f632dd01", "staff": "ana", "store": "s001", "tax": [{"base": 333, "rate": "20", "tax": 67}], "tenders": [{"amount": 400, "type": "card"}], "total": 400, "ts": "2026-11-26T09:16:00.000Z"}','2026-12-03T16:27:12.795Z');
INSERT INTO "sales" VALUES(4,'3c540349-853a-4e11-afcd-0f823422a00d','till-01',4,'refund','s001-till-01-000004','s001','north','ana','2026-11-29T15:00:00.000Z','2026-11-29','EUR',-250,'00000004','81719489-31a1-445c-ac7c-dc6fa56cf3c6','c0066c21ac27b4e8818cf887e56066f4bdbb1d97d8f438d807b0b0b5b3e683fb','{"change": 0, "currency": "EUR", "device": "till-01", "hash": "c0066c21ac27b4e8818cf887e56066f4bdbb1d97d8f438d807b0b0b5b3e683fb", "kind": "refund", "lines": [{"barcode": "4006381333931", "discount": 0, "name": "Caf\u00e9 cr\u00e8me", "qty": -1, "sku": "A1", "tax_rate": "20", "total": -250, "unit_price": 250}], "loyalty": {"account": "00000004", "balance": null, "earned": -2, "offline": false, "redeemed": 0}, "prev_hash": "27c59065e100dc5347fe2fe3557f154ceca9a0463e94dbdfc911fcf15cee308c", "receipt_no": "s001-till-01-000004", "refund_of": "81719489-31a1-445c-ac7c-dc6fa56cf3c6", "region": "north", "sale_id": "3c540349-853a-4e11-afcd-0f823422a00d", "schema": 1, "seq": 4, "sig": "b901a7da96d2506904201200069014ad13ce473cfdaa7f6dc86c9c0846ad98d4f7c43eb816ce8e9ec66d9f3b909e7ae21f3246d9a10cf039384fa1892c12ac02", "staff": "ana", "store": "s001", "tax": [{"base": -209, "rate": "20", "tax": -41}], "tenders": [{"amount": -250, "type": "card"}], "total": -250, "ts": "2026-11-29T15:00:00.000Z"}','2026-12-03T16:27:12.795Z');
INSERT INTO "sales" VALUES(5,'1b7ad9ac-1914-4ee1-a232-13fee41efe34','till-01',5,'no_sale','s001-till-01-000005','s001','north','ana','2026-11-29T18:00:00.000Z','2026-11-29','EUR',0,NULL,NULL,'ecbb8f2a044b0cf80800e0e2fdd59e244aa2a5a85989bbae359aed5d84440d48','{"change": 0, "currency": "EUR", "device": "till-01", "hash": "ecbb8f2a044b0cf80800e0e2fdd59e244aa2a5a85989bbae359aed5d84440d48", "kind": "no_sale", "lines": [], "loyalty": null, "prev_hash": "c0066c21ac27b4e8818cf887e56066f4bdbb1d97d8f438d807b0b0b5b3e683fb", "receipt_no": "s001-till-01-000005", "refund_of": null, "region": "north", "sale_id": "1b7ad9ac-1914-4ee1-a232-13fee41efe34", "schema": 1, "seq": 5, "sig": "526bc3be112952e00c971af13b2fde9bb92ced67126b398719849b068295639e182466560254f395bdf915aad60678d461080514a160bf8e33d6da3599a76407", "staff": "ana", "store": "s001", "tax": [{"base": 0, "rate": "20", "tax": 0}], "tenders": [{"amount": 0, "type": "card"}], "total": 0, "ts": "2026-11-29T18:00:00.000Z"}','2026-12-03T16:27:12.795Z');
INSERT INTO "sales" VALUES(6,'96ffaad8-780f-40fa-a78a-6d95304e000b','till-02',1,'sale','s001-till-02-000001','s001','north','ana','2024-06-01T09:11:00.000Z','2024-06-01','EUR',650,'00000002',NULL,'5d34bdced2bb74b2ac68eaa79eb1b5e70cea87f88810f2684f67e894229caef7','{"change": 0, "currency": "EUR", "device": "till-02", "hash": "5d34bdced2bb74b2ac68eaa79eb1b5e70cea87f88810f2684f67e894229caef7", "kind": "sale", "lines": [{"barcode": "4006381333931", "discount": 0, "name": "Caf\u00e9 cr\u00e8me", "qty": 2, "sku": "A1", "tax_rate": "20", "total": 500, "unit_price": 250}, {"barcode": "4006381333931", "discount": 30, "name": "Brioche", "qty": 1, "sku": "B2", "tax_rate": "20", "total": 150, "unit_price": 180}], "loyalty": {"account": "00000002", "balance": null, "earned": 6, "offline": false, "redeemed": 0}, "prev_hash": "0000000000000000000000000000000000000000000000000000000000000000", "receipt_no": "s001-till-02-000001", "refund_of": null, "region": "north", "sale_id": "96ffaad8-780f-40fa-a78a-6d95304e000b", "schema": 1, "seq": 1, "sig": "31700fcae75526c60faad6e6e40bef87f081a2f0fe1af2f18c947d3352f9e05e7304642875b35c0e84233269d7aca0f221f35e33a525d8e2ce0c963870f9830f", "staff": "ana", "store": "s001", "tax": [{"base": 541, "rate": "20", "tax": 109}], "tenders": [{"amount": 650, "type": "card"}], "total": 650, "ts": "2024-06-01T09:11:00.000Z"}','2026-12-03T16:27:12.795Z');
INSERT INTO "sales" VALUES(7,'05b91801-2b1a-4ab3-9a8b-3dcb0b57a785','till-02',2,'sale','s001-till-02-000002','s001','north','ana','2026-11-24T09:14:00.000Z','2026-11-24','EUR',400,'erased-c169a517',NULL,'b222cef2278a72c9a65f8dff9458b050e9a29144291c78e7c59498559bfadcca','{"change":0,"currency":"EUR","device":"till-02","hash":"b222cef2278a72c9a65f8dff9458b050e9a29144291c78e7c59498559bfadcca","kind":"sale","lines":[{"barcode":"4006381333931","discount":0,"name":"Café crème","qty":1,"sku":"A1","tax_rate":"20","total":250,"unit_price":250},{"barcode":"4006381333931","discount":30,"name":"Brioche","qty":1,"sku":"B2","tax_rate":"20","total":150,"unit_price":180}],"loyalty":{"account":"erased-c169a517","balance":null,"earned":4,"offline":false,"redeemed":0},"prev_hash":"5d34bdced2bb74b2ac68eaa79eb1b5e70cea87f88810f2684f67e894229caef7","receipt_no":"s001-till-02-000002","refund_of":null,"region":"north","sale_id":"05b91801-2b1a-4ab3-9a8b-3dcb0b57a785","schema":1,"seq":2,"sig":"8e601e7206fbf3fd6dcce8de8d1ae7ad9e1c7d416611e2387b09b7276eb62565bd42243c08582155f3ac5cfc8a13cc5c528f73d753579b0d378cdcb6a23ed308","staff":"ana","store":"s001","tax":[{"base":333,"rate":"20","tax":67}],"tenders":[{"amount":400,"type":"card"}],"total":400,"ts":"2026-11-24T09:14:00.000Z"}','2026-12-03T16:27:12.795Z');
INSERT INTO "sales" VALUES(8,'7c82f61d-11b5-46be-abba-cd86915e1dfd','till-02',3,'sale','s001-till-02-000003','s001','north','ana','2026-11-27T09:17:00.000Z','2026-11-27','EUR',650,'00000002',NULL,'c083b532e128aee992caceab9506f74ee38e5fbf9a8aa2f7e5a0f2ea8324ea91','{"change": 0, "currency": "EUR", "device": "till-02", "hash": "c083b532e128aee992caceab9506f74ee38e5fbf9a8aa2f7e5a0f2ea8324ea91", "kind": "sale", "lines": [{"barcode": "4006381333931", "discount": 0, "name": "Caf\u00e9 cr\u00e8me", "qty": 2, "sku": "A1", "tax_rate": "20", "total": 500, "unit_price": 250}, {"barcode": "4006381333931", "discount": 30, "name": "Brioche", "qty": 1, "sku": "B2", "tax_rate": "20", "total": 150, "unit_price": 180}], "loyalty": {"account": "00000002", "balance": null, "earned": 6, "offline": false, "redeemed": 0}, "prev_hash": "b222cef2278a72c9a65f8dff9458b050e9a29144291c78e7c59498559bfadcca", "receipt_no": "s001-till-02-000003", "refund_of": null, "region": "north", "sale_id": "7c82f61d-11b5-46be-abba-cd86915e1dfd", "schema": 1, "seq": 3, "sig": "2835356b943bf63f6a3fd6cc36c091170f4bbdcddea51d3df47c25f6138dc83820cba5903c22b5c3e5f007ff36007f93259939cd806a325a1e9a11beed9a2006", "staff": "ana", "store": "s001", "tax": [{"base": 541, "rate": "20", "tax": 109}], "tenders": [{"amount": 650, "type": "card"}], "total": 650, "ts": "2026-11-27T09:17:00.000Z"}','2026-12-03T16:27:12.795Z');
INSERT INTO "sales" VALUES(9,'9ad8bbfc-de0f-41e3-9ba0-78d1c9e693c7','till-03',1,'sale','s002-till-03-000001','s002','south','ana','2026-11-22T09:12:00.000Z','2026-11-22','EUR',400,NULL,NULL,'6afe1ec7fb52433ce6311ee0f61218c8243bb8efce0690ccd797f49a1d9908b3','{"change": 0, "currency": "EUR", "device": "till-03", "hash": "6afe1ec7fb52433ce6311ee0f61218c8243bb8efce0690ccd797f49a1d9908b3", "kind": "sale", "lines": [{"barcode": "4006381333931", "discount": 0, "name": "Caf\u00e9 cr\u00e8me", "qty": 1, "sku": "A1", "tax_rate": "20", "total": 250, "unit_price": 250}, {"barcode": "4006381333931", "discount": 30, "name": "Brioche", "qty": 1, "sku": "B2", "tax_rate": "20", "total": 150, "unit_price": 180}], "loyalty": null, "prev_hash": "0000000000000000000000000000000000000000000000000000000000000000", "receipt_no": "s002-till-03-000001", "refund_of": null, "region": "south", "sale_id": "9ad8bbfc-de0f-41e3-9ba0-78d1c9e693c7", "schema": 1, "seq": 1, "sig": "796688d3a9ff21ad2e8e767c44e2cf5a61e27fbfdab8c72363a0c5f23a066c0500eceb3fc1a3add245c6fd68c2a5ca13ce5a6a290ac991dfcf29e7f157af6901", "staff": "ana", "store": "s002", "tax": [{"base": 333, "rate": "20", "tax": 67}], "tenders": [{"amount": 400, "type": "card"}], "total": 400, "ts": "2026-11-22T09:12:00.000Z"}','2026-12-03T16:27:12.795Z');
INSERT INTO "sales" VALUES(10,'035a83e4-44c8-4f59-a09f-7307172e8235','till-03',2,'sale','s002-till-03-000002','s002','south','ana','2026-11-25T09:15:00.000Z','2026-11-25','EUR',650,NULL,NULL,'9563fd078a6989a9fbcd0fc6bc6002068ee751f013a985d0b2f177c258186f50','{"change": 0, "currency": "EUR", "device": "till-03", "hash": "9563fd078a6989a9fbcd0fc6bc6002068ee751f013a985d0b2f177c258186f50", "kind": "sale", "lines": [{"barcode": "4006381333931", "discount": 0, "name": "Caf\u00e9 cr\u00e8me", "qty": 2, "sku": "A1", "tax_rate": "20", "total": 500, "unit_price": 250}, {"barcode": "4006381333931", "discount": 30, "name": "Brioche", "qty": 1, "sku": "B2", "tax_rate": "20", "total": 150, "unit_price": 180}], "loyalty": null, "prev_hash": "6afe1ec7fb52433ce6311ee0f61218c8243bb8efce0690ccd797f49a1d9908b3", "receipt_no": "s002-till-03-000002", "refund_of": null, "region": "south", "sale_id": "035a83e4-44c8-4f59-a09f-7307172e8235", "schema": 1, "seq": 2, "sig": "ec5b898f3897d26c7d2544928ea6efca037759bf9abcfbedf9afdcee29a1b56c36b9457cdbd96433621304918f93db299692b9f9d06416b44f153f1a013fb902", "staff": "ana", "store": "s002", "tax": [{"base": 541, "rate": "20", "tax": 109}], "tenders": [{"amount": 650, "type": "card"}], "total": 650, "ts": "2026-11-25T09:15:00.000Z"}','2026-12-03T16:27:12.795Z');
INSERT INTO "sales" VALUES(11,'b6be0feb-72b9-471a-b08f-af5349096966','till-03',3,'sale','s002-till-03-000003','s002','south','ana','2026-11-28T09:18:00.000Z','2026-11-28','EUR',400,NULL,NULL,'3a3b039667d360ad8c2d15324f8481879b4bb51aafaeccc7eb928572783bd4a3','{"change": 0, "currency": "EUR", "device": "till-03", "hash": "3a3b039667d360ad8c2d15324f8481879b4bb51aafaeccc7eb928572783bd4a3", "kind": "sale", "lines": [{"barcode": "4006381333931", "discount": 0, "name": "Caf\u00e9 cr\u00e8me", "qty": 1, "sku": "A1", "tax_rate": "20", "total": 250, "unit_price": 250}, {"barcode": "4006381333931", "discount": 30, "name": "Brioche", "qty": 1, "sku": "B2", "tax_rate": "20", "total": 150, "unit_price": 180}], "loyalty": null, "prev_hash": "9563fd078a6989a9fbcd0fc6bc6002068ee751f013a985d0b2f177c258186f50", "receipt_no": "s002-till-03-000003", "refund_of": null, "region": "south", "sale_id": "b6be0feb-72b9-471a-b08f-af5349096966", "schema": 1, "seq": 3, "sig": "b656fe2527c5ed28cdb801a2bf2bc6204069b2a741130d5a129b9907f56a21e6c080f20be6097cd776a72fcc4be37c79daf2d64399e5ce4b63befca3ac87f50d", "staff": "ana", "store": "s002", "tax": [{"base": 333, "rate": "20", "tax": 67}], "tenders": [{"amount": 400, "type": "card"}], "total": 400, "ts": "2026-11-28T09:18:00.000Z"}','2026-12-03T16:27:12.795Z');
INSERT INTO "sales" VALUES(12,'2136002b-b394-434c-b767-862311843d81','till-02',4,'sale','s001-till-02-000004','s001','north','ana','2026-11-30T10:00:00.000Z','2026-11-30','EUR',420,'00000001',NULL,'a6f420411ad70df204a3d200247e50bf6c100b6fe4c2bb4cda14730752ea810b','{"schema": 1, "seq": 4, "sale_id": "2136002b-b394-434c-b767-862311843d81", "kind": "sale", "receipt_no": "s001-till-02-000004", "device": "till-02", "store": "s001", "region": "north", "staff": "ana", "ts": "2026-11-30T10:00:00.000Z", "currency": "EUR", "lines": [{"sku": "C3", "barcode": "4006381333931", "name": "Tarte", "qty": 1, "unit_price": 420, "discount": 0, "total": 420, "tax_rate": "20"}], "total": 420, "tax": [{"rate": "20", "base": 350, "tax": 70}], "tenders": [{"type": "card", "amount": 417}, {"type": "points", "amount": 3}], "change": 0, "loyalty": {"account": "00000001", "earned": 4, "redeemed": 3, "balance": null, "offline": false, "reservation": "48d12473ae164462916e54c002cfdab6"}, "refund_of": null, "prev_hash": "c083b532e128aee992caceab9506f74ee38e5fbf9a8aa2f7e5a0f2ea8324ea91", "hash": "a6f420411ad70df204a3d200247e50bf6c100b6fe4c2bb4cda14730752ea810b", "sig": "f5639c11d27b99592bd0262bfbc203b6cc9cde2d8bf11c7eb0d7c8fd7cdb400c53b7bf367a2ecd8470d94e70346622678aabe6bf1acbe63108d59997cbe0c401"}','2026-12-03T16:27:12.942Z');
INSERT INTO "sales" VALUES(13,'d3cfcbe9-7b50-413f-8444-033c513571b0','till-02',5,'refund','s001-till-02-000005','s001','north','ana','2026-11-30T16:00:00.000Z','2026-11-30','EUR',-420,'00000001','2136002b-b394-434c-b767-862311843d81','2c7b8afd12315f5475ebc985ab9247530e109f71a5f7c9e880f525aae089f8de','{"schema": 1, "seq": 5, "sale_id": "d3cfcbe9-7b50-413f-8444-033c513571b0", "kind": "refund", "receipt_no": "s001-till-02-000005", "device": "till-02", "store": "s001", "region": "north", "staff": "ana", "ts": "2026-11-30T16:00:00.000Z", "currency": "EUR", "lines": [{"sku": "C3", "barcode": "4006381333931", "name": "Tarte", "qty": -1, "unit_price": 420, "discount": 0, "total": -420, "tax_rate": "20"}], "total": -420, "tax": [{"rate": "20", "base": -350, "tax": -70}], "tenders": [{"type": "card", "amount": -417}, {"type": "points", "amount": -3}], "change": 0, "loyalty": {"account": "00000001", "earned": -4, "redeemed": -3, "balance": null, "offline": false}, "refund_of": "2136002b-b394-434c-b767-862311843d81", "prev_hash": "a6f420411ad70df204a3d200247e50bf6c100b6fe4c2bb4cda14730752ea810b", "hash": "2c7b8afd12315f5475ebc985ab9247530e109f71a5f7c9e880f525aae089f8de", "sig": "a6fb2da6b2b8a85161035921e3df82d0ca5098c9f08e6cd9ea32d6d1bd39737aa113df2edc4f5a226597c4e9f5cec06e318e9d38d81e0cfda1edfae39d311607"}','2026-12-03T16:27:12.942Z');
CREATE TABLE stock (
	store VARCHAR(32) NOT NULL, 
	sku VARCHAR(64) NOT NULL, 
	level BIGINT NOT NULL, 
	version BIGINT NOT NULL, 
	published_version BIGINT NOT NULL, 
	PRIMARY KEY (store, sku)
);
INSERT INTO "stock" VALUES('s001','A1',40,2,0);
INSERT INTO "stock" VALUES('s001','B2',30,2,0);
INSERT INTO "stock" VALUES('s002','A1',-4,1,0);
INSERT INTO "stock" VALUES('s002','B2',-3,1,0);
INSERT INTO "stock" VALUES('s001','C3',0,1,0);
INSERT INTO "stock" VALUES('s002','C3',12,1,0);
CREATE TABLE stock_moves (
	id INTEGER NOT NULL, 
	store VARCHAR(32) NOT NULL, 
	sku VARCHAR(64) NOT NULL, 
	delta BIGINT NOT NULL, 
	reason VARCHAR(16) NOT NULL, 
	ref VARCHAR(64), 
	at VARCHAR(32) NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "stock_moves" VALUES(1,'s001','A1',-9,'sale',NULL,'2026-12-03T16:27:12.795Z');
INSERT INTO "stock_moves" VALUES(2,'s001','B2',-6,'sale',NULL,'2026-12-03T16:27:12.795Z');
INSERT INTO "stock_moves" VALUES(3,'s001','A1',1,'refund',NULL,'2026-12-03T16:27:12.795Z');
INSERT INTO "stock_moves" VALUES(4,'s002','A1',-4,'sale',NULL,'2026-12-03T16:27:12.795Z');
INSERT INTO "stock_moves" VALUES(5,'s002','B2',-3,'sale',NULL,'2026-12-03T16:27:12.795Z');
INSERT INTO "stock_moves" VALUES(6,'s001','C3',-1,'sale',NULL,'2026-12-03T16:27:12.942Z');
INSERT INTO "stock_moves" VALUES(7,'s001','C3',1,'refund',NULL,'2026-12-03T16:27:12.942Z');
INSERT INTO "stock_moves" VALUES(8,'s001','A1',48,'receive',NULL,'2026-12-03T16:27:13.013Z');
INSERT INTO "stock_moves" VALUES(9,'s002','C3',12,'receive',NULL,'2026-12-03T16:27:13.017Z');
INSERT INTO "stock_moves" VALUES(10,'s001','B2',36,'count',NULL,'2026-12-03T16:27:13.021Z');
CREATE TABLE tenders (
	id INTEGER NOT NULL, 
	sale INTEGER NOT NULL, 
	type VARCHAR(16) NOT NULL, 
	amount BIGINT NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(sale) REFERENCES sales (id)
);
INSERT INTO "tenders" VALUES(1,1,'card',400);
INSERT INTO "tenders" VALUES(2,2,'card',650);
INSERT INTO "tenders" VALUES(3,3,'card',400);
INSERT INTO "tenders" VALUES(4,4,'card',-250);
INSERT INTO "tenders" VALUES(5,5,'card',0);
INSERT INTO "tenders" VALUES(6,6,'card',650);
INSERT INTO "tenders" VALUES(7,7,'card',400);
INSERT INTO "tenders" VALUES(8,8,'card',650);
INSERT INTO "tenders" VALUES(9,9,'card',400);
INSERT INTO "tenders" VALUES(10,10,'card',650);
INSERT INTO "tenders" VALUES(11,11,'card',400);
INSERT INTO "tenders" VALUES(12,12,'card',417);
INSERT INTO "tenders" VALUES(13,12,'points',3);
INSERT INTO "tenders" VALUES(14,13,'card',-417);
INSERT INTO "tenders" VALUES(15,13,'points',-3);
CREATE INDEX ix_devices_store ON devices (store);
CREATE INDEX ix_consents_account ON consents (account);
CREATE INDEX ix_loyalty_entries_account_at ON loyalty_entries (account, at);
CREATE INDEX ix_loyalty_reservations_open ON loyalty_reservations (account, state);
CREATE INDEX ix_loyalty_reservations_sale_id ON loyalty_reservations (sale_id);
CREATE INDEX ix_events_device ON events (device);
CREATE INDEX ix_loyalty_lots_open ON loyalty_lots (account, remaining, earned_at);
CREATE INDEX ix_loyalty_lots_entry ON loyalty_lots (entry);
CREATE INDEX ix_sales_account ON sales (account);
CREATE INDEX ix_sales_day ON sales (day);
CREATE INDEX ix_loyalty_allocations_lot ON loyalty_allocations (lot);
CREATE INDEX ix_loyalty_allocations_entry ON loyalty_allocations (entry);
CREATE INDEX ix_sale_lines_sku ON sale_lines (sku);
CREATE INDEX ix_sale_lines_sale ON sale_lines (sale);
CREATE INDEX ix_tenders_sale ON tenders (sale);
COMMIT;
