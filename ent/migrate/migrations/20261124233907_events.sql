-- +goose Up
-- modify "tenants" table
ALTER TABLE `tenants` ADD COLUMN `event_seq` bigint NOT NULL DEFAULT 0;
-- create "events" table
CREATE TABLE `events` (`id` bigint NOT NULL AUTO_INCREMENT, `seq` bigint NULL, `topic` enum('TICKET','ORDER') NOT NULL, `kind` varchar(32) NOT NULL, `subject_id` bigint NOT NULL, `customer_id` bigint NULL, `assignee_id` bigint NULL, `team_id` bigint NULL, `status` varchar(32) NOT NULL DEFAULT '', `platform` varchar(32) NOT NULL DEFAULT '', `shop_id` varchar(64) NOT NULL DEFAULT '', `actor_id` bigint NULL, `created_at` datetime(6) NOT NULL, `tenant_id` bigint NOT NULL, PRIMARY KEY (`id`), INDEX `event_seq` (`seq`), INDEX `event_tenant_id_created_at` (`tenant_id`, `created_at`), UNIQUE INDEX `event_tenant_id_seq` (`tenant_id`, `seq`), CONSTRAINT `events_tenants_tenant` FOREIGN KEY (`tenant_id`) REFERENCES `tenants` (`id`) ON UPDATE RESTRICT ON DELETE NO ACTION) CHARSET utf8mb4 COLLATE utf8mb4_bin AUTO_INCREMENT 68719476736;

-- +goose Down
-- reverse: create "events" table
DROP TABLE `events`;
-- reverse: modify "tenants" table
ALTER TABLE `tenants` DROP COLUMN `event_seq`;
