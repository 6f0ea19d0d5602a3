-- One database per service (X-01: each service owns its data; none reads
-- another's tables). Run once by the postgres image, on an empty data volume,
-- as POSTGRES_USER; each service then creates its tables with its migrations.
CREATE DATABASE identity;
CREATE DATABASE organizations;
CREATE DATABASE billing;
CREATE DATABASE domains;
CREATE DATABASE notifications;
