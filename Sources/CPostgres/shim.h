#ifndef AUTOTUNE_CPOSTGRES_SHIM_H
#define AUTOTUNE_CPOSTGRES_SHIM_H
#include <libpq-fe.h>
#endif
