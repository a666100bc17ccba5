-- +goose Up
-- modify "connector_accounts" table
ALTER TABLE `connector_accounts` MODIFY COLUMN `platform` enum('WECOM','TAOBAO','TMALL','DOUYIN','WECHAT_MINIPROGRAM') NOT NULL;
-- modify "tenants" table
ALTER TABLE `tenants` ADD COLUMN `webhook_seq` bigint NOT NULL DEFAULT 0, ADD COLUMN `customer_document_lists` json NULL;
-- create "api_keys" table
CREATE TABLE `api_keys` (`id` bigint NOT NULL AUTO_INCREMENT, `created_at` datetime(6) NOT NULL, `updated_at` datetime(6) NOT NULL, `name` varchar(100) NOT NULL, `prefix` varchar(32) NOT NULL, `secret_hash` varchar(64) NOT NULL, `scopes` json NOT NULL, `persisted_only` bool NOT NULL DEFAULT 0, `document_lists` json NULL, `ip_allowlist` json NULL, `rate_limit` bigint NOT NULL DEFAULT 0, `expires_at` datetime(6) NULL, `revoked_at` datetime(6) NULL, `last_used_at` datetime(6) NULL, `tenant_id` bigint NOT NULL, `created_by_id` bigint NULL, PRIMARY KEY (`id`), INDEX `apikey_tenant_id_created_at` (`tenant_id`, `created_at`), INDEX `api_keys_staff_created_by` (`created_by_id`), UNIQUE INDEX `prefix` (`prefix`), CONSTRAINT `api_keys_staff_created_by` FOREIGN KEY (`created_by_id`) REFERENCES `staff` (`id`) ON UPDATE RESTRICT ON DELETE SET NULL, CONSTRAINT `api_keys_tenants_tenant` FOREIGN KEY (`tenant_id`) REFERENCES `tenants` (`id`) ON UPDATE RESTRICT ON DELETE NO ACTION) CHARSET utf8mb4 COLLATE utf8mb4_bin AUTO_INCREMENT 107374182400;
-- create "trusted_documents" table
CREATE TABLE `trusted_documents` (`id` bigint NOT NULL AUTO_INCREMENT, `created_at` datetime(6) NOT NULL, `updated_at` datetime(6) NOT NULL, `list` varchar(64) NOT NULL, `document_id` varchar(200) NOT NULL, `hash` varchar(64) NOT NULL, `body` longtext NOT NULL, `operation_name` varchar(200) NOT NULL DEFAULT '', `tenant_id` bigint NOT NULL, PRIMARY KEY (`id`), INDEX `trusteddocument_tenant_id_created_at` (`tenant_id`, `created_at`), INDEX `trusteddocument_tenant_id_hash` (`tenant_id`, `hash`), UNIQUE INDEX `trusteddocument_tenant_id_list_document_id` (`tenant_id`, `list`, `document_id`), CONSTRAINT `trusted_documents_tenants_tenant` FOREIGN KEY (`tenant_id`) REFERENCES `tenants` (`id`) ON UPDATE RESTRICT ON DELETE NO ACTION) CHARSET utf8mb4 COLLATE utf8mb4_bin AUTO_INCREMENT 111669149696;
-- create "webhook_endpoints" table
CREATE TABLE `webhook_endpoints` (`id` bigint NOT NULL AUTO_INCREMENT, `created_at` datetime(6) NOT NULL, `updated_at` datetime(6) NOT NULL, `url` varchar(500) NOT NULL, `description` varchar(200) NOT NULL DEFAULT '', `event_kinds` json NOT NULL, `secret` text NOT NULL, `status` enum('ACTIVE','PAUSED') NOT NULL DEFAULT 'ACTIVE', `consecutive_failures` bigint NOT NULL DEFAULT 0, `pause_reason` varchar(500) NOT NULL DEFAULT '', `paused_at` datetime(6) NULL, `tenant_id` bigint NOT NULL, `created_by_id` bigint NULL, PRIMARY KEY (`id`), INDEX `webhookendpoint_tenant_id_created_at` (`tenant_id`, `created_at`), INDEX `webhook_endpoints_staff_created_by` (`created_by_id`), CONSTRAINT `webhook_endpoints_staff_created_by` FOREIGN KEY (`created_by_id`) REFERENCES `staff` (`id`) ON UPDATE RESTRICT ON DELETE SET NULL, CONSTRAINT `webhook_endpoints_tenants_tenant` FOREIGN KEY (`tenant_id`) REFERENCES `tenants` (`id`) ON UPDATE RESTRICT ON DELETE NO ACTION) CHARSET utf8mb4 COLLATE utf8mb4_bin AUTO_INCREMENT 120259084288;
-- create "webhook_deliveries" table
CREATE TABLE `webhook_deliveries` (`id` bigint NOT NULL AUTO_INCREMENT, `created_at` datetime(6) NOT NULL, `updated_at` datetime(6) NOT NULL, `event_id` bigint NULL, `kind` varchar(64) NOT NULL, `payload` longtext NOT NULL, `status` enum('PENDING','SUCCEEDED','FAILING','ABANDONED') NOT NULL DEFAULT 'PENDING', `attempts` bigint NOT NULL DEFAULT 0, `response_status` bigint NULL, `last_error` longtext NOT NULL DEFAULT '', `duration_ms` bigint NULL, `next_attempt_at` datetime(6) NULL, `delivered_at` datetime(6) NULL, `tenant_id` bigint NOT NULL, `endpoint_id` bigint NOT NULL, PRIMARY KEY (`id`), UNIQUE INDEX `webhookdelivery_endpoint_id_event_id` (`endpoint_id`, `event_id`), INDEX `webhookdelivery_tenant_id_created_at` (`tenant_id`, `created_at`), INDEX `webhookdelivery_tenant_id_status` (`tenant_id`, `status`), CONSTRAINT `webhook_deliveries_tenants_tenant` FOREIGN KEY (`tenant_id`) REFERENCES `tenants` (`id`) ON UPDATE RESTRICT ON DELETE NO ACTION, CONSTRAINT `webhook_deliveries_webhook_endpoints_deliveries` FOREIGN KEY (`endpoint_id`) REFERENCES `webhook_endpoints` (`id`) ON UPDATE RESTRICT ON DELETE NO ACTION) CHARSET utf8mb4 COLLATE utf8mb4_bin AUTO_INCREMENT 115964116992;

-- +goose Down
-- reverse: create "webhook_deliveries" table
DROP TABLE `webhook_deliveries`;
-- reverse: create "webhook_endpoints" table
DROP TABLE `webhook_endpoints`;
-- reverse: create "trusted_documents" table
DROP TABLE `trusted_documents`;
-- reverse: create "api_keys" table
DROP TABLE `api_keys`;
-- reverse: modify "tenants" table
ALTER TABLE `tenants` DROP COLUMN `customer_document_lists`, DROP COLUMN `webhook_seq`;
-- reverse: modify "connector_accounts" table
ALTER TABLE `connector_accounts` MODIFY COLUMN `platform` enum('WECOM','TAOBAO','TMALL','DOUYIN') NOT NULL;
