#ifndef AUTOTUNE_CSQLITE_SHIM_H
#define AUTOTUNE_CSQLITE_SHIM_H
#include <sqlite3.h>
#include <sys/vfs.h>  /* statfs: which file system a store is on */
#endif
