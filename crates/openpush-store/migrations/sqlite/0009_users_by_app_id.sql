-- A broadcast pages through an app's users in id order (`id > cursor LIMIT n`). Without this
-- index SQLite answers from the (app_id, username) index and sorts every page: each page cost
-- grew with the app's size (a million users: quadratic). With it, a page is a range read.
CREATE INDEX users_by_app_id ON users (app_id, id);
-- The same for a label task's pages through the first label's members.
CREATE INDEX label_members_by_label_id ON label_members (label_id, id);
