// The MariaDB Connector/C (Debian: libmariadb-dev, pkg-config libmariadb), client API and error codes.
#ifndef MILVUS_MIGRATION_CMARIADB_SHIM_H
#define MILVUS_MIGRATION_CMARIADB_SHIM_H
#include <mariadb/mysql.h>
#include <mariadb/errmsg.h>
#include <mariadb/mysqld_error.h>
#endif
