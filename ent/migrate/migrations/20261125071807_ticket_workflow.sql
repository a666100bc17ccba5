-- +goose Up
-- modify "departments" table
ALTER TABLE `departments` ADD COLUMN `leader_id` bigint NULL, ADD COLUMN `calendar_id` bigint NULL, ADD INDEX `departments_business_calendars_calendar` (`calendar_id`), ADD INDEX `departments_staff_leader` (`leader_id`);
-- modify "forms" table
ALTER TABLE `forms` ADD COLUMN `ticket_fields` json NULL, ADD COLUMN `ticket_type_id` bigint NULL, ADD INDEX `forms_ticket_types_ticket_type` (`ticket_type_id`);
-- modify "form_submissions" table
ALTER TABLE `form_submissions` ADD COLUMN `ticket_id` bigint NULL, ADD INDEX `form_submissions_tickets_ticket` (`ticket_id`);
-- modify "staff" table
ALTER TABLE `staff` ADD COLUMN `working_hours` json NULL, ADD COLUMN `open_tickets` bigint NOT NULL DEFAULT 0, ADD COLUMN `last_assigned_at` datetime(6) NULL, ADD COLUMN `csat_average` double NOT NULL DEFAULT 0, ADD COLUMN `csat_count` bigint NOT NULL DEFAULT 0, ADD COLUMN `avg_resolution_seconds` bigint NOT NULL DEFAULT 0;
-- modify "tickets" table
ALTER TABLE `tickets` MODIFY COLUMN `status` enum('NEW','ASSIGNED','IN_PROGRESS','PENDING_CUSTOMER','PENDING_APPROVAL','RESOLVED','CLOSED','REOPENED') NOT NULL DEFAULT 'NEW', ADD COLUMN `next_update_due_at` datetime(6) NULL, ADD COLUMN `first_responded_at` datetime(6) NULL, ADD COLUMN `last_update_at` datetime(6) NULL, ADD COLUMN `sla_paused_at` datetime(6) NULL, ADD COLUMN `sla_paused_seconds` bigint NOT NULL DEFAULT 0, ADD COLUMN `first_response_breached_at` datetime(6) NULL, ADD COLUMN `resolution_breached_at` datetime(6) NULL, ADD COLUMN `escalation_level` bigint NOT NULL DEFAULT 0, ADD COLUMN `escalated_at` datetime(6) NULL, ADD COLUMN `escalations_done` json NULL, ADD COLUMN `next_escalation_at` datetime(6) NULL, ADD COLUMN `sla_generation` bigint NOT NULL DEFAULT 0, ADD COLUMN `assigned_at` datetime(6) NULL, ADD COLUMN `assignment_reason` longtext NOT NULL DEFAULT '', ADD COLUMN `reopened_at` datetime(6) NULL, ADD COLUMN `csat` bigint NULL, ADD COLUMN `csat_comment` longtext NOT NULL DEFAULT '', ADD COLUMN `csat_staff_id` bigint NULL, ADD COLUMN `survey_token_hash` varchar(64) NULL, ADD COLUMN `survey_sent_at` datetime(6) NULL, ADD COLUMN `type_id` bigint NULL, ADD COLUMN `sla_policy_id` bigint NULL, ADD INDEX `tickets_sla_policies_sla_policy` (`sla_policy_id`), ADD INDEX `tickets_ticket_types_ticket_type` (`type_id`), ADD INDEX `ticket_next_escalation_at` (`next_escalation_at`), ADD UNIQUE INDEX `ticket_survey_token_hash` (`survey_token_hash`);
-- create "business_calendars" table
CREATE TABLE `business_calendars` (`id` bigint NOT NULL AUTO_INCREMENT, `created_at` datetime(6) NOT NULL, `updated_at` datetime(6) NOT NULL, `name` varchar(100) NOT NULL, `is_default` bool NOT NULL DEFAULT 0, `spec` json NOT NULL, `tenant_id` bigint NOT NULL, PRIMARY KEY (`id`), INDEX `businesscalendar_tenant_id_created_at` (`tenant_id`, `created_at`)) CHARSET utf8mb4 COLLATE utf8mb4_bin AUTO_INCREMENT 85899345920;
-- create "sla_policies" table
CREATE TABLE `sla_policies` (`id` bigint NOT NULL AUTO_INCREMENT, `created_at` datetime(6) NOT NULL, `updated_at` datetime(6) NOT NULL, `name` varchar(100) NOT NULL, `position` bigint NOT NULL DEFAULT 0, `active` bool NOT NULL DEFAULT 1, `condition` json NOT NULL, `targets` json NOT NULL, `business_hours` bool NOT NULL DEFAULT 1, `escalations` json NOT NULL, `tenant_id` bigint NOT NULL, `calendar_id` bigint NULL, PRIMARY KEY (`id`), INDEX `slapolicy_tenant_id_created_at` (`tenant_id`, `created_at`), INDEX `sla_policies_business_calendars_calendar` (`calendar_id`)) CHARSET utf8mb4 COLLATE utf8mb4_bin AUTO_INCREMENT 90194313216;
-- create "ticket_approvals" table
CREATE TABLE `ticket_approvals` (`id` bigint NOT NULL AUTO_INCREMENT, `created_at` datetime(6) NOT NULL, `updated_at` datetime(6) NOT NULL, `step` bigint NOT NULL, `name` varchar(100) NOT NULL DEFAULT '', `from_status` varchar(32) NOT NULL, `to_status` varchar(32) NOT NULL, `reject_to` varchar(32) NOT NULL, `approver` json NOT NULL, `required_approvals` bigint NOT NULL DEFAULT 1, `status` enum('PENDING','APPROVED','REJECTED','CANCELLED') NOT NULL DEFAULT 'PENDING', `decisions` json NOT NULL, `decided_at` datetime(6) NULL, `ticket_id` bigint NOT NULL, `tenant_id` bigint NOT NULL, `requested_by_id` bigint NULL, PRIMARY KEY (`id`), INDEX `ticketapproval_tenant_id_created_at` (`tenant_id`, `created_at`), INDEX `ticketapproval_tenant_id_status` (`tenant_id`, `status`), INDEX `ticketapproval_ticket_id` (`ticket_id`), INDEX `ticket_approvals_staff_requested_by` (`requested_by_id`)) CHARSET utf8mb4 COLLATE utf8mb4_bin AUTO_INCREMENT 94489280512;
-- create "ticket_changes" table
CREATE TABLE `ticket_changes` (`id` bigint NOT NULL AUTO_INCREMENT, `kind` varchar(32) NOT NULL, `field` varchar(64) NOT NULL DEFAULT '', `before` varchar(255) NOT NULL DEFAULT '', `after` varchar(255) NOT NULL DEFAULT '', `note` longtext NOT NULL DEFAULT '', `created_at` datetime(6) NOT NULL, `ticket_id` bigint NOT NULL, `tenant_id` bigint NOT NULL, `actor_id` bigint NULL, PRIMARY KEY (`id`), INDEX `ticketchange_tenant_id_created_at` (`tenant_id`, `created_at`), INDEX `ticketchange_ticket_id_created_at` (`ticket_id`, `created_at`), INDEX `ticket_changes_staff_actor` (`actor_id`)) CHARSET utf8mb4 COLLATE utf8mb4_bin AUTO_INCREMENT 98784247808;
-- create "ticket_types" table
CREATE TABLE `ticket_types` (`id` bigint NOT NULL AUTO_INCREMENT, `created_at` datetime(6) NOT NULL, `updated_at` datetime(6) NOT NULL, `key` varchar(32) NOT NULL, `name` varchar(100) NOT NULL, `description` longtext NOT NULL DEFAULT '', `active` bool NOT NULL DEFAULT 1, `default_for_sources` json NOT NULL, `workflow` json NOT NULL, `routing` json NOT NULL, `claim_back_after` varchar(16) NOT NULL DEFAULT '', `fairness_cap` bigint NOT NULL DEFAULT 0, `fairness_window` varchar(16) NOT NULL DEFAULT '1h', `reopen_window` varchar(16) NOT NULL DEFAULT '168h', `keywords` json NOT NULL, `tenant_id` bigint NOT NULL, `survey_form_id` bigint NULL, PRIMARY KEY (`id`), INDEX `tickettype_tenant_id_created_at` (`tenant_id`, `created_at`), UNIQUE INDEX `tickettype_tenant_id_key` (`tenant_id`, `key`), INDEX `ticket_types_forms_survey_form` (`survey_form_id`)) CHARSET utf8mb4 COLLATE utf8mb4_bin AUTO_INCREMENT 103079215104;
-- modify "departments" table
ALTER TABLE `departments` ADD CONSTRAINT `departments_business_calendars_calendar` FOREIGN KEY (`calendar_id`) REFERENCES `business_calendars` (`id`) ON UPDATE RESTRICT ON DELETE SET NULL, ADD CONSTRAINT `departments_staff_leader` FOREIGN KEY (`leader_id`) REFERENCES `staff` (`id`) ON UPDATE RESTRICT ON DELETE SET NULL;
-- modify "forms" table
ALTER TABLE `forms` ADD CONSTRAINT `forms_ticket_types_ticket_type` FOREIGN KEY (`ticket_type_id`) REFERENCES `ticket_types` (`id`) ON UPDATE RESTRICT ON DELETE SET NULL;
-- modify "form_submissions" table
ALTER TABLE `form_submissions` ADD CONSTRAINT `form_submissions_tickets_ticket` FOREIGN KEY (`ticket_id`) REFERENCES `tickets` (`id`) ON UPDATE RESTRICT ON DELETE SET NULL;
-- modify "tickets" table
ALTER TABLE `tickets` ADD CONSTRAINT `tickets_sla_policies_sla_policy` FOREIGN KEY (`sla_policy_id`) REFERENCES `sla_policies` (`id`) ON UPDATE RESTRICT ON DELETE SET NULL, ADD CONSTRAINT `tickets_ticket_types_ticket_type` FOREIGN KEY (`type_id`) REFERENCES `ticket_types` (`id`) ON UPDATE RESTRICT ON DELETE SET NULL;
-- modify "business_calendars" table
ALTER TABLE `business_calendars` ADD CONSTRAINT `business_calendars_tenants_tenant` FOREIGN KEY (`tenant_id`) REFERENCES `tenants` (`id`) ON UPDATE RESTRICT ON DELETE NO ACTION;
-- modify "sla_policies" table
ALTER TABLE `sla_policies` ADD CONSTRAINT `sla_policies_business_calendars_calendar` FOREIGN KEY (`calendar_id`) REFERENCES `business_calendars` (`id`) ON UPDATE RESTRICT ON DELETE SET NULL, ADD CONSTRAINT `sla_policies_tenants_tenant` FOREIGN KEY (`tenant_id`) REFERENCES `tenants` (`id`) ON UPDATE RESTRICT ON DELETE NO ACTION;
-- modify "ticket_approvals" table
ALTER TABLE `ticket_approvals` ADD CONSTRAINT `ticket_approvals_staff_requested_by` FOREIGN KEY (`requested_by_id`) REFERENCES `staff` (`id`) ON UPDATE RESTRICT ON DELETE SET NULL, ADD CONSTRAINT `ticket_approvals_tenants_tenant` FOREIGN KEY (`tenant_id`) REFERENCES `tenants` (`id`) ON UPDATE RESTRICT ON DELETE NO ACTION, ADD CONSTRAINT `ticket_approvals_tickets_approvals` FOREIGN KEY (`ticket_id`) REFERENCES `tickets` (`id`) ON UPDATE RESTRICT ON DELETE NO ACTION;
-- modify "ticket_changes" table
ALTER TABLE `ticket_changes` ADD CONSTRAINT `ticket_changes_staff_actor` FOREIGN KEY (`actor_id`) REFERENCES `staff` (`id`) ON UPDATE RESTRICT ON DELETE SET NULL, ADD CONSTRAINT `ticket_changes_tenants_tenant` FOREIGN KEY (`tenant_id`) REFERENCES `tenants` (`id`) ON UPDATE RESTRICT ON DELETE NO ACTION, ADD CONSTRAINT `ticket_changes_tickets_changes` FOREIGN KEY (`ticket_id`) REFERENCES `tickets` (`id`) ON UPDATE RESTRICT ON DELETE NO ACTION;
-- modify "ticket_types" table
ALTER TABLE `ticket_types` ADD CONSTRAINT `ticket_types_forms_survey_form` FOREIGN KEY (`survey_form_id`) REFERENCES `forms` (`id`) ON UPDATE RESTRICT ON DELETE SET NULL, ADD CONSTRAINT `ticket_types_tenants_tenant` FOREIGN KEY (`tenant_id`) REFERENCES `tenants` (`id`) ON UPDATE RESTRICT ON DELETE NO ACTION;

-- +goose Down
-- reverse: modify "ticket_types" table
ALTER TABLE `ticket_types` DROP FOREIGN KEY `ticket_types_tenants_tenant`, DROP FOREIGN KEY `ticket_types_forms_survey_form`;
-- reverse: modify "ticket_changes" table
ALTER TABLE `ticket_changes` DROP FOREIGN KEY `ticket_changes_tickets_changes`, DROP FOREIGN KEY `ticket_changes_tenants_tenant`, DROP FOREIGN KEY `ticket_changes_staff_actor`;
-- reverse: modify "ticket_approvals" table
ALTER TABLE `ticket_approvals` DROP FOREIGN KEY `ticket_approvals_tickets_approvals`, DROP FOREIGN KEY `ticket_approvals_tenants_tenant`, DROP FOREIGN KEY `ticket_approvals_staff_requested_by`;
-- reverse: modify "sla_policies" table
ALTER TABLE `sla_policies` DROP FOREIGN KEY `sla_policies_tenants_tenant`, DROP FOREIGN KEY `sla_policies_business_calendars_calendar`;
-- reverse: modify "business_calendars" table
ALTER TABLE `business_calendars` DROP FOREIGN KEY `business_calendars_tenants_tenant`;
-- reverse: modify "tickets" table
ALTER TABLE `tickets` DROP FOREIGN KEY `tickets_ticket_types_ticket_type`, DROP FOREIGN KEY `tickets_sla_policies_sla_policy`;
-- reverse: modify "form_submissions" table
ALTER TABLE `form_submissions` DROP FOREIGN KEY `form_submissions_tickets_ticket`;
-- reverse: modify "forms" table
ALTER TABLE `forms` DROP FOREIGN KEY `forms_ticket_types_ticket_type`;
-- reverse: modify "departments" table
ALTER TABLE `departments` DROP FOREIGN KEY `departments_staff_leader`, DROP FOREIGN KEY `departments_business_calendars_calendar`;
-- reverse: create "ticket_types" table
DROP TABLE `ticket_types`;
-- reverse: create "ticket_changes" table
DROP TABLE `ticket_changes`;
-- reverse: create "ticket_approvals" table
DROP TABLE `ticket_approvals`;
-- reverse: create "sla_policies" table
DROP TABLE `sla_policies`;
-- reverse: create "business_calendars" table
DROP TABLE `business_calendars`;
-- reverse: modify "tickets" table
ALTER TABLE `tickets` DROP INDEX `ticket_survey_token_hash`, DROP INDEX `ticket_next_escalation_at`, DROP INDEX `tickets_ticket_types_ticket_type`, DROP INDEX `tickets_sla_policies_sla_policy`, DROP COLUMN `sla_policy_id`, DROP COLUMN `type_id`, DROP COLUMN `survey_sent_at`, DROP COLUMN `survey_token_hash`, DROP COLUMN `csat_staff_id`, DROP COLUMN `csat_comment`, DROP COLUMN `csat`, DROP COLUMN `reopened_at`, DROP COLUMN `assignment_reason`, DROP COLUMN `assigned_at`, DROP COLUMN `sla_generation`, DROP COLUMN `next_escalation_at`, DROP COLUMN `escalations_done`, DROP COLUMN `escalated_at`, DROP COLUMN `escalation_level`, DROP COLUMN `resolution_breached_at`, DROP COLUMN `first_response_breached_at`, DROP COLUMN `sla_paused_seconds`, DROP COLUMN `sla_paused_at`, DROP COLUMN `last_update_at`, DROP COLUMN `first_responded_at`, DROP COLUMN `next_update_due_at`, MODIFY COLUMN `status` enum('NEW','ASSIGNED','IN_PROGRESS','PENDING_CUSTOMER','RESOLVED','CLOSED') NOT NULL DEFAULT 'NEW';
-- reverse: modify "staff" table
ALTER TABLE `staff` DROP COLUMN `avg_resolution_seconds`, DROP COLUMN `csat_count`, DROP COLUMN `csat_average`, DROP COLUMN `last_assigned_at`, DROP COLUMN `open_tickets`, DROP COLUMN `working_hours`;
-- reverse: modify "form_submissions" table
ALTER TABLE `form_submissions` DROP INDEX `form_submissions_tickets_ticket`, DROP COLUMN `ticket_id`;
-- reverse: modify "forms" table
ALTER TABLE `forms` DROP INDEX `forms_ticket_types_ticket_type`, DROP COLUMN `ticket_type_id`, DROP COLUMN `ticket_fields`;
-- reverse: modify "departments" table
ALTER TABLE `departments` DROP INDEX `departments_staff_leader`, DROP INDEX `departments_business_calendars_calendar`, DROP COLUMN `calendar_id`, DROP COLUMN `leader_id`;
