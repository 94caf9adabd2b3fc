#ifndef AUTOTUNE_CZLIB_SHIM_H
#define AUTOTUNE_CZLIB_SHIM_H
#include <zlib.h>
#endif
