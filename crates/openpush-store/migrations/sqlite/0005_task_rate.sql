-- 定速推送: an optional delivery rate per task, notifications per second.
ALTER TABLE tasks ADD COLUMN rate INTEGER;
