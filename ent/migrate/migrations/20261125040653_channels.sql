-- +goose Up
-- modify "follow_ups" table
ALTER TABLE `follow_ups` ADD COLUMN `handed_over_from_id` bigint NULL, ADD COLUMN `transfer_fail_reason` varchar(64) NULL;
-- create "channels" table
CREATE TABLE `channels` (`id` bigint NOT NULL AUTO_INCREMENT, `created_at` datetime(6) NOT NULL, `updated_at` datetime(6) NOT NULL, `name` varchar(100) NOT NULL, `state` varchar(30) NOT NULL, `rotation` json NOT NULL, `daily_add_limit` bigint NOT NULL DEFAULT 0, `welcome_message` longtext NULL, `config_id` varchar(64) NULL, `qr_code` varchar(512) NULL, `on_duty_staff_ids` json NULL, `pushed_at` datetime(6) NULL, `last_error` longtext NULL, `tenant_id` bigint NOT NULL, `account_id` bigint NOT NULL, PRIMARY KEY (`id`), UNIQUE INDEX `channel_account_id_state` (`account_id`, `state`), INDEX `channel_tenant_id_created_at` (`tenant_id`, `created_at`), CONSTRAINT `channels_connector_accounts_account` FOREIGN KEY (`account_id`) REFERENCES `connector_accounts` (`id`) ON UPDATE RESTRICT ON DELETE NO ACTION, CONSTRAINT `channels_tenants_tenant` FOREIGN KEY (`tenant_id`) REFERENCES `tenants` (`id`) ON UPDATE RESTRICT ON DELETE NO ACTION) CHARSET utf8mb4 COLLATE utf8mb4_bin AUTO_INCREMENT 81604378624;
-- create "channel_backup_staff" table
CREATE TABLE `channel_backup_staff` (`channel_id` bigint NOT NULL, `staff_id` bigint NOT NULL, PRIMARY KEY (`channel_id`, `staff_id`), INDEX `channel_backup_staff_staff_id` (`staff_id`), CONSTRAINT `channel_backup_staff_channel_id` FOREIGN KEY (`channel_id`) REFERENCES `channels` (`id`) ON UPDATE RESTRICT ON DELETE CASCADE, CONSTRAINT `channel_backup_staff_staff_id` FOREIGN KEY (`staff_id`) REFERENCES `staff` (`id`) ON UPDATE RESTRICT ON DELETE CASCADE) CHARSET utf8mb4 COLLATE utf8mb4_bin;
-- create "channel_tags" table
CREATE TABLE `channel_tags` (`channel_id` bigint NOT NULL, `tag_id` bigint NOT NULL, PRIMARY KEY (`channel_id`, `tag_id`), INDEX `channel_tags_tag_id` (`tag_id`), CONSTRAINT `channel_tags_channel_id` FOREIGN KEY (`channel_id`) REFERENCES `channels` (`id`) ON UPDATE RESTRICT ON DELETE CASCADE, CONSTRAINT `channel_tags_tag_id` FOREIGN KEY (`tag_id`) REFERENCES `tags` (`id`) ON UPDATE RESTRICT ON DELETE CASCADE) CHARSET utf8mb4 COLLATE utf8mb4_bin;

-- +goose Down
-- reverse: create "channel_tags" table
DROP TABLE `channel_tags`;
-- reverse: create "channel_backup_staff" table
DROP TABLE `channel_backup_staff`;
-- reverse: create "channels" table
DROP TABLE `channels`;
-- reverse: modify "follow_ups" table
ALTER TABLE `follow_ups` DROP COLUMN `transfer_fail_reason`, DROP COLUMN `handed_over_from_id`;
