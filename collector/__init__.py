"""The central collector: ingests what the appliances report (the CRM's store of record)."""
