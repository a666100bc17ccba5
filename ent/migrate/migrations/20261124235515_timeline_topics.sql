-- +goose Up
-- modify "events" table
ALTER TABLE `events` MODIFY COLUMN `topic` enum('TICKET','ORDER','FORM_SUBMISSION','CUSTOMER') NOT NULL;

-- +goose Down
-- reverse: modify "events" table
ALTER TABLE `events` MODIFY COLUMN `topic` enum('TICKET','ORDER') NOT NULL;
