-- SPDX-License-Identifier: ISC
-- Last Activity (XEP-0012, pgsql): when each user's last session ended, and its status text.
CREATE TABLE last_activity (
    host TEXT COLLATE "C" NOT NULL,
    username TEXT COLLATE "C" NOT NULL,
    logout_at BIGINT NOT NULL, -- seconds since the epoch
    status TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (host, username),
    FOREIGN KEY (host, username) REFERENCES users (host, username) ON DELETE CASCADE
);
