-- +goose Up
-- modify "tenants" table
ALTER TABLE `tenants` ADD COLUMN `policy_version` bigint NOT NULL DEFAULT 1;

-- +goose Down
-- reverse: modify "tenants" table
ALTER TABLE `tenants` DROP COLUMN `policy_version`;
