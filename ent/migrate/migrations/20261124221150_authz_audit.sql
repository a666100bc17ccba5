-- +goose Up
-- modify "customers" table
ALTER TABLE `customers` ADD COLUMN `id_number` varchar(18) NULL, ADD COLUMN `marketing_consents` json NULL, ADD COLUMN `erased_at` datetime(6) NULL;
-- modify "tenants" table
ALTER TABLE `tenants` ADD COLUMN `audit_seq` bigint NOT NULL DEFAULT 0, ADD COLUMN `audit_head` varchar(64) NOT NULL DEFAULT '';
-- create "casbin_rule" table
CREATE TABLE `casbin_rule` (`id` bigint NOT NULL AUTO_INCREMENT, `p_type` varchar(32) NOT NULL DEFAULT '', `v0` varchar(255) NOT NULL DEFAULT '', `v1` varchar(255) NOT NULL DEFAULT '', `v2` varchar(255) NOT NULL DEFAULT '', `v3` varchar(255) NOT NULL DEFAULT '', `v4` varchar(255) NOT NULL DEFAULT '', `v5` varchar(255) NOT NULL DEFAULT '', PRIMARY KEY (`id`), INDEX `casbinrule_p_type_v0_v1` (`p_type`, `v0`, `v1`), INDEX `casbinrule_v1` (`v1`)) CHARSET utf8mb4 COLLATE utf8mb4_bin AUTO_INCREMENT 64424509440;
-- create "audit_logs" table
CREATE TABLE `audit_logs` (`id` bigint NOT NULL AUTO_INCREMENT, `created_at` datetime(6) NOT NULL, `actor_id` bigint NULL, `actor_roles` json NOT NULL, `action` enum('MUTATION','READ','REVEAL','EXPORT','ERASE','POLICY','SIGN_IN_FAILED') NOT NULL, `operation` varchar(100) NOT NULL DEFAULT '', `object_type` varchar(64) NOT NULL DEFAULT '', `object_ids` json NOT NULL, `fields` json NOT NULL, `purpose` varchar(255) NOT NULL DEFAULT '', `client_ip` varchar(64) NOT NULL DEFAULT '', `request_id` varchar(64) NOT NULL DEFAULT '', `seq` bigint NULL, `prev_hash` varchar(64) NOT NULL DEFAULT '', `hash` varchar(64) NOT NULL DEFAULT '', `tenant_id` bigint NOT NULL, PRIMARY KEY (`id`), INDEX `auditlog_tenant_id_created_at` (`tenant_id`, `created_at`), INDEX `auditlog_tenant_id_hash` (`tenant_id`, `hash`), UNIQUE INDEX `auditlog_tenant_id_seq` (`tenant_id`, `seq`), CONSTRAINT `audit_logs_tenants_tenant` FOREIGN KEY (`tenant_id`) REFERENCES `tenants` (`id`) ON UPDATE RESTRICT ON DELETE NO ACTION) CHARSET utf8mb4 COLLATE utf8mb4_bin AUTO_INCREMENT 60129542144;

-- +goose Down
-- reverse: create "audit_logs" table
DROP TABLE `audit_logs`;
-- reverse: create "casbin_rule" table
DROP TABLE `casbin_rule`;
-- reverse: modify "tenants" table
ALTER TABLE `tenants` DROP COLUMN `audit_head`, DROP COLUMN `audit_seq`;
-- reverse: modify "customers" table
ALTER TABLE `customers` DROP COLUMN `erased_at`, DROP COLUMN `marketing_consents`, DROP COLUMN `id_number`;
