-- +goose Up
-- modify "customers" table
ALTER TABLE `customers` MODIFY COLUMN `phone` varchar(512) NULL, MODIFY COLUMN `email` varchar(512) NULL, MODIFY COLUMN `birthday` varchar(512) NULL, MODIFY COLUMN `address` text NULL, MODIFY COLUMN `id_number` varchar(512) NULL, ADD COLUMN `phone_index` varchar(32) NULL, DROP INDEX `customer_tenant_id_phone`, ADD INDEX `customer_tenant_id_phone_index` (`tenant_id`, `phone_index`);
-- modify "staff" table
ALTER TABLE `staff` MODIFY COLUMN `mobile` varchar(512) NULL, MODIFY COLUMN `email` varchar(512) NULL;

-- +goose Down
-- reverse: modify "staff" table
ALTER TABLE `staff` MODIFY COLUMN `email` varchar(254) NULL, MODIFY COLUMN `mobile` varchar(20) NULL;
-- reverse: modify "customers" table
ALTER TABLE `customers` DROP INDEX `customer_tenant_id_phone_index`, ADD INDEX `customer_tenant_id_phone` (`tenant_id`, `phone`), DROP COLUMN `phone_index`, MODIFY COLUMN `id_number` varchar(18) NULL, MODIFY COLUMN `address` varchar(255) NULL, MODIFY COLUMN `birthday` varchar(10) NULL, MODIFY COLUMN `email` varchar(254) NULL, MODIFY COLUMN `phone` varchar(20) NULL;
