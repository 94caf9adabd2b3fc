#ifndef AUTOTUNE_CSQLITE_SHIM_H
#define AUTOTUNE_CSQLITE_SHIM_H
#include <sqlite3.h>
#endif
