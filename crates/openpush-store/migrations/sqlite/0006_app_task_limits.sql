-- Per-app task limits (§3.9); NULL = the server's setting.
ALTER TABLE apps ADD COLUMN tasks_running_max INTEGER;
ALTER TABLE apps ADD COLUMN tasks_per_window INTEGER;
