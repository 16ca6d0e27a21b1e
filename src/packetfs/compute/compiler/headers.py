"""The small libc headers the compiler ships (pycparser's "fake libc" idea, written for this runtime):
only declarations and macros the runtime implements, so every declared function really works."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

_COMMON = """
#ifndef __PFX_COMMON
#define __PFX_COMMON
typedef unsigned long size_t;
typedef long ptrdiff_t;
typedef int wchar_t;
#define NULL ((void*)0)
#endif
"""

HEADERS: dict[str, str] = {
    "__pfx_common.h": _COMMON,
    "stddef.h": '#include "__pfx_common.h"\n#define offsetof(T, m) ((size_t)&((T*)0)->m)\n',
    "stdio.h": """#include "__pfx_common.h"
#ifndef __PFX_STDIO
#define __PFX_STDIO
#define EOF (-1)
typedef struct __pfx_file FILE;
#define SEEK_SET 0
#define SEEK_CUR 1
#define SEEK_END 2
#define BUFSIZ 8192
extern FILE *stdin;
extern FILE *stdout;
extern FILE *stderr;
/* files live in the program's in-memory file table, only for the run (runtime_c.py) */
FILE *fopen(const char *name, const char *mode);
int fclose(FILE *f);
size_t fwrite(const void *p, size_t size, size_t n, FILE *f);
size_t fread(void *p, size_t size, size_t n, FILE *f);
int fgetc(FILE *f);
int getc(FILE *f);
int getchar(void);
int ungetc(int c, FILE *f);
char *fgets(char *s, int n, FILE *f);
int fputc(int c, FILE *f);
int putc(int c, FILE *f);
int fputs(const char *s, FILE *f);
int feof(FILE *f);
int ferror(FILE *f);
void clearerr(FILE *f);
long ftell(FILE *f);
int fseek(FILE *f, long off, int whence);
void rewind(FILE *f);
int remove(const char *name);
int printf(const char *fmt, ...);
int sprintf(char *buf, const char *fmt, ...);
int snprintf(char *buf, size_t n, const char *fmt, ...);
int fprintf(FILE *f, const char *fmt, ...);
int vprintf(const char *fmt, char *ap);            /* char *: stdarg.h's va_list */
int vfprintf(FILE *f, const char *fmt, char *ap);
int vsprintf(char *buf, const char *fmt, char *ap);
int vsnprintf(char *buf, size_t n, const char *fmt, char *ap);
int putchar(int c);
int puts(const char *s);
int fflush(FILE *f);
#endif
""",
    "stdlib.h": """#include "__pfx_common.h"
#ifndef __PFX_STDLIB
#define __PFX_STDLIB
#define EXIT_SUCCESS 0
#define EXIT_FAILURE 1
#define RAND_MAX 2147483647
void *malloc(size_t n);
void *calloc(size_t n, size_t size);
void *realloc(void *p, size_t n);
void free(void *p);
int abs(int x);
long labs(long x);
long long llabs(long long x);
void exit(int status);
void abort(void);
int atoi(const char *s);
long atol(const char *s);
long strtol(const char *s, char **end, int base);
unsigned long strtoul(const char *s, char **end, int base);
int rand(void);
void srand(unsigned seed);
void qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));
#endif
""",
    "string.h": """#include "__pfx_common.h"
#ifndef __PFX_STRING
#define __PFX_STRING
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strcpy(char *d, const char *s);
char *strncpy(char *d, const char *s, size_t n);
char *strcat(char *d, const char *s);
char *strchr(const char *s, int c);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
#endif
""",
    "assert.h": """#undef assert
#ifdef NDEBUG
#define assert(e) ((void)0)
#else
void __pfx_assert_fail(const char *expr, const char *file, int line);
#define assert(e) ((e) ? (void)0 : __pfx_assert_fail(#e, __FILE__, __LINE__))
#endif
""",
    "stdarg.h": """#ifndef __PFX_STDARG
#define __PFX_STDARG
typedef char *va_list;
char *__pfx_va_start(void);
char *__pfx_va_next(char **ap, unsigned long size);
#define va_start(ap, last) ((ap) = __pfx_va_start())
#define va_arg(ap, T) (*(T *)__pfx_va_next(&(ap), sizeof(T)))
#define va_end(ap) ((void)0)
#define va_copy(d, s) ((d) = (s))
#endif
""",
    "stdint.h": """#ifndef __PFX_STDINT
#define __PFX_STDINT
typedef signed char int8_t; typedef unsigned char uint8_t;
typedef short int16_t; typedef unsigned short uint16_t;
typedef int int32_t; typedef unsigned int uint32_t;
typedef long int64_t; typedef unsigned long uint64_t;
typedef long intptr_t; typedef unsigned long uintptr_t;
typedef long intmax_t; typedef unsigned long uintmax_t;
#define INT8_MIN (-128)
#define INT8_MAX 127
#define UINT8_MAX 255
#define INT16_MIN (-32768)
#define INT16_MAX 32767
#define UINT16_MAX 65535
#define INT32_MIN (-2147483647-1)
#define INT32_MAX 2147483647
#define UINT32_MAX 4294967295U
#define INT64_MIN (-9223372036854775807L-1)
#define INT64_MAX 9223372036854775807L
#define UINT64_MAX 18446744073709551615UL
#endif
""",
    "wchar.h": '#include "__pfx_common.h"\n',
    "inttypes.h": '#include <stdint.h>\n#define PRId64 "ld"\n#define PRIu64 "lu"\n#define PRIx64 "lx"\n',
    "stdbool.h": "#define bool _Bool\n#define true 1\n#define false 0\n",
    "limits.h": """#define CHAR_BIT 8
#define SCHAR_MIN (-128)
#define SCHAR_MAX 127
#define UCHAR_MAX 255
#define CHAR_MIN (-128)
#define CHAR_MAX 127
#define SHRT_MIN (-32768)
#define SHRT_MAX 32767
#define USHRT_MAX 65535
#define INT_MIN (-2147483647-1)
#define INT_MAX 2147483647
#define UINT_MAX 4294967295U
#define LONG_MIN (-9223372036854775807L-1)
#define LONG_MAX 9223372036854775807L
#define ULONG_MAX 18446744073709551615UL
#define LLONG_MIN (-9223372036854775807LL-1)
#define LLONG_MAX 9223372036854775807LL
#define ULLONG_MAX 18446744073709551615ULL
""",
    "math.h": """#ifndef __PFX_MATH
#define __PFX_MATH
double __pfx_sqrt(double x);
#define sqrt(x) __pfx_sqrt(x)
double fabs(double x);
double floor(double x);
double ceil(double x);
double fmod(double x, double y);
double sin(double x);
double cos(double x);
#define M_PI 3.14159265358979323846
#endif
""",
    "ctype.h": """int isdigit(int c); int isalpha(int c); int isalnum(int c); int isspace(int c);
int isupper(int c); int islower(int c); int toupper(int c); int tolower(int c); int isxdigit(int c);
""",
}


def include_dir() -> Path:
    """Materialise the headers once per content hash in the temp dir (no package-data needed)."""
    digest = hashlib.sha256(repr(sorted(HEADERS.items())).encode()).hexdigest()[:16]
    root = Path(tempfile.gettempdir()) / f"packetfs-cc-include-{digest}"
    if not (root / ".complete").exists():
        root.mkdir(parents=True, exist_ok=True)
        for name, text in HEADERS.items():
            (root / name).write_text(text)
        (root / ".complete").write_text("ok")
    return root
