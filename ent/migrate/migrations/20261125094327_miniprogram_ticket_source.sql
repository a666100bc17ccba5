-- +goose Up
-- modify "tickets" table
ALTER TABLE `tickets` MODIFY COLUMN `source` enum('MANUAL','FORM','ORDER_RETURN','WECOM','API','MINI_PROGRAM') NOT NULL DEFAULT 'MANUAL';

-- +goose Down
-- reverse: modify "tickets" table
ALTER TABLE `tickets` MODIFY COLUMN `source` enum('MANUAL','FORM','ORDER_RETURN','WECOM','API') NOT NULL DEFAULT 'MANUAL';
