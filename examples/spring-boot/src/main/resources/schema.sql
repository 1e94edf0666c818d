-- The example's business tables. Oncely's claims table (processed_events) is created by the starter
-- (oncely.create-schema=true); in your application apply its DDL with Flyway or Liquibase (docs/databases.md).
CREATE TABLE IF NOT EXISTS payments (
    event_id     VARCHAR(255) NOT NULL,
    amount_cents BIGINT       NOT NULL
);
CREATE TABLE IF NOT EXISTS refunds (
    event_id     VARCHAR(255) NOT NULL,
    amount_cents BIGINT       NOT NULL
);
