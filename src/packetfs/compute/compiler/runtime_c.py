"""The C library the compiled programs link against, written in C and compiled by this compiler, so it
runs on the fabric like the program itself. Output leaves through the EMIT intrinsic (tags below); the
origin turns the emitted stream into bytes (render.py). Three intrinsics reach the fabric directly:
__pfx_emit (EMIT), __pfx_halt (HALT: exit) and __pfx_trap (TRAP: abort/assert)."""

from __future__ import annotations

TAG_CHAR = 1     # one output byte
TAG_SPEC = 2     # one character of a printf conversion spec ("%-08.3lx")
TAG_ARG = 3      # one 64-bit argument of the current spec (a '*' width/precision, then the value)
TAG_STR = 4      # one byte of a %s argument
TAG_END = 6      # the current spec is complete: the origin renders it

TRAP_ABORT = 1
TRAP_ASSERT = 2
TRAP_BAD_FREE = 3
TRAP_UNSUPPORTED = 4
TRAP_VLA = 6          # (5 is the code generator's stack overflow)
TRAP_VLA_SCOPE = 7

RUNTIME_SOURCE = r"""
typedef unsigned long size_t;
typedef char *va_list;
void __pfx_emit(int tag, unsigned long value, int width);
void __pfx_halt(int status);
void __pfx_trap(int code);
extern char __pfx_heap_start[];
extern char __pfx_heap_end[];
void *malloc(size_t n);
void free(void *p);
void *memcpy(void *d, const void *s, size_t n);
int strcmp(const char *a, const char *b);
size_t strlen(const char *s);
/* FILE: fd 0 stdin (always at end of file), 1 stdout (to the origin), 2 stderr (discarded), 3 a file of
   the in-memory file table below (node). */
struct __pfx_fnode;
struct __pfx_file { int fd; int readable; int writable; int append; int eof; int ungot; size_t pos;
                    struct __pfx_fnode *node; };
typedef struct __pfx_file FILE;
static FILE __pfx_stdin_file = {0, 1, 0, 0, 0, -1, 0, 0};
static FILE __pfx_stdout_file = {1, 0, 1, 0, 0, -1, 0, 0};
static FILE __pfx_stderr_file = {2, 0, 1, 0, 0, -1, 0, 0};
FILE *stdin = &__pfx_stdin_file;
FILE *stdout = &__pfx_stdout_file;
FILE *stderr = &__pfx_stderr_file;

char *__pfx_va_next(char **ap, unsigned long size) {
    char *p = *ap;
    *ap = p + ((size + 7) & ~7UL);
    return p;
}

int putchar(int c) { __pfx_emit(1, (unsigned char)c, 1); return (unsigned char)c; }
int puts(const char *s) { while (*s) __pfx_emit(1, (unsigned char)*s++, 1); __pfx_emit(1, 10, 1); return 1; }
int fflush(FILE *f) { return 0; }

/* conversion characters of printf: one table load instead of a chain of compares */
static const unsigned char __pfx_conv[128] = {
    ['d'] = 1, ['i'] = 1, ['o'] = 1, ['u'] = 1, ['x'] = 1, ['X'] = 1, ['c'] = 1, ['s'] = 1, ['p'] = 1,
    ['f'] = 1, ['F'] = 1, ['e'] = 1, ['E'] = 1, ['g'] = 1, ['G'] = 1, ['a'] = 1, ['A'] = 1, ['n'] = 1, ['%'] = 1};

/* printf: literal bytes are emitted as they are; each conversion is sent as its spec characters and
   argument values, and the origin formats it (as glibc would). Arguments are 8-byte slots at ap. */
static int __pfx_print(const char *f, char *ap) {
    char c;
    while ((c = *f)) {
        if (c != '%') { __pfx_emit(1, (unsigned char)c, 1); f++; continue; }
        const char *s = f++;
        while ((c = *f) && !(c > 0 && __pfx_conv[(int)c])) f++;
        if (!c) { while (*s) __pfx_emit(1, (unsigned char)*s++, 1); break; }
        f++;
        if (c == '%') { __pfx_emit(1, '%', 1); continue; }
        for (const char *q = s; q < f; q++) {
            __pfx_emit(2, (unsigned char)*q, 1);
            if (*q == '*') { __pfx_emit(3, *(unsigned long *)ap, 8); ap += 8; }
        }
        if (c == 's') {
            const char *str = *(const char **)ap;
            __pfx_emit(3, (unsigned long)str, 8);
            if (str) while (*str) __pfx_emit(4, (unsigned char)*str++, 1);
        } else if (c != 'n') {
            __pfx_emit(3, *(unsigned long *)ap, 8);
        }
        ap += 8;
        __pfx_emit(6, 0, 1);
    }
    return 0;
}


/* sprintf/snprintf: formatted in C (integers, characters, strings, pointers). */
struct __pfx_out { char *buf; size_t cap; size_t n; };
static void __pfx_put(struct __pfx_out *o, char c) {
    if (o->n + 1 < o->cap) o->buf[o->n] = c;
    o->n++;
}
static int __pfx_format(struct __pfx_out *o, const char *f, char *ap) {
    while (*f) {
        if (*f != '%') { __pfx_put(o, *f++); continue; }
        f++;
        int left = 0, plus = 0, space = 0, alt = 0, zero = 0, width = 0, prec = -1, lng = 0, half = 0;
        for (;; f++) {
            if (*f == '-') left = 1; else if (*f == '+') plus = 1; else if (*f == ' ') space = 1;
            else if (*f == '#') alt = 1; else if (*f == '0') zero = 1; else break;
        }
        if (*f == '*') { width = *(int *)__pfx_va_next(&ap, 8); if (width < 0) { left = 1; width = -width; } f++; }
        else while (*f >= '0' && *f <= '9') width = width * 10 + (*f++ - '0');
        if (*f == '.') {
            f++; prec = 0;
            if (*f == '*') { prec = *(int *)__pfx_va_next(&ap, 8); f++; }
            else while (*f >= '0' && *f <= '9') prec = prec * 10 + (*f++ - '0');
        }
        while (*f == 'l' || *f == 'h' || *f == 'z' || *f == 'j' || *f == 't') {
            if (*f == 'h') half++; else lng = 1;
            f++;
        }
        char conv = *f++;
        char tmp[72];
        int len = 0;
        const char *body = tmp;
        char sign = 0;
        const char *prefix = "";
        if (conv == '%') { __pfx_put(o, '%'); continue; }
        if (conv == 'c') { tmp[0] = (char)*(int *)__pfx_va_next(&ap, 8); len = 1; prec = -1; }
        else if (conv == 's') {
            body = *(const char **)__pfx_va_next(&ap, 8);
            if (!body) body = "(null)";
            while (body[len] && (prec < 0 || len < prec)) len++;
            prec = -1;
        } else if (conv == 'd' || conv == 'i' || conv == 'u' || conv == 'x' || conv == 'X' || conv == 'o' || conv == 'p') {
            unsigned long v = *(unsigned long *)__pfx_va_next(&ap, 8);
            int neg = 0;
            unsigned base = (conv == 'x' || conv == 'X' || conv == 'p') ? 16 : conv == 'o' ? 8 : 10;
            if (conv == 'p') { lng = 1; if (!v) { body = "(nil)"; len = 5; goto pad; } prefix = "0x"; }
            if (conv == 'd' || conv == 'i') {
                long sv = lng ? (long)v : half == 1 ? (long)(short)v : half >= 2 ? (long)(signed char)v : (long)(int)v;
                if (sv < 0) { neg = 1; v = -(unsigned long)sv; } else v = sv;
                if (neg) sign = '-'; else if (plus) sign = '+'; else if (space) sign = ' ';
            } else if (!lng) {
                v = half == 1 ? (unsigned short)v : half >= 2 ? (unsigned char)v : (unsigned int)v;
            }
            const char *digits = conv == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
            char rev[72];
            int k = 0;
            while (v) { rev[k++] = digits[v % base]; v /= base; }
            if (prec < 0) prec = 1;
            while (k < prec) rev[k++] = '0';
            if (alt && base == 8 && (k == 0 || rev[k - 1] != '0')) rev[k++] = '0';
            if (alt && base == 16 && conv != 'p' && k && !(k == 1 && rev[0] == '0')) prefix = conv == 'X' ? "0X" : "0x";
            for (len = 0; len < k; len++) tmp[len] = rev[k - 1 - len];
            prec = -1;
            if (zero && !left && prec < 0) {
                int plen = (sign != 0);
                for (const char *q = prefix; *q; q++) plen++;
                if (sign) __pfx_put(o, sign);
                for (const char *q = prefix; *q; q++) __pfx_put(o, *q);
                sign = 0; prefix = "";
                while (plen + len < width) { __pfx_put(o, '0'); width--; }
            }
        } else {
            __pfx_trap(4);  /* sprintf of floating conversions is not provided */
        }
    pad:;
        int total = len + (sign != 0);
        for (const char *q = prefix; *q; q++) total++;
        if (!left) while (total < width) { __pfx_put(o, ' '); width--; }
        if (sign) __pfx_put(o, sign);
        for (const char *q = prefix; *q; q++) __pfx_put(o, *q);
        for (int i = 0; i < len; i++) __pfx_put(o, body[i]);
        if (left) while (total < width) { __pfx_put(o, ' '); width--; }
    }
    if (o->cap) o->buf[o->n < o->cap ? o->n : o->cap - 1] = 0;
    return (int)o->n;
}
int sprintf(char *buf, const char *fmt, ...) {
    struct __pfx_out o; o.buf = buf; o.cap = (size_t)-1 >> 1; o.n = 0;
    return __pfx_format(&o, fmt, __pfx_va_start());
}
int snprintf(char *buf, size_t cap, const char *fmt, ...) {
    struct __pfx_out o; o.buf = buf; o.cap = cap; o.n = 0;
    return __pfx_format(&o, fmt, __pfx_va_start());
}
int vsprintf(char *buf, const char *fmt, va_list ap) {
    struct __pfx_out o; o.buf = buf; o.cap = (size_t)-1 >> 1; o.n = 0;
    return __pfx_format(&o, fmt, ap);
}
int vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap) {
    struct __pfx_out o; o.buf = buf; o.cap = cap; o.n = 0;
    return __pfx_format(&o, fmt, ap);
}

/* printf and friends return the number of characters, which only formatting can tell: the count is
   made here with sprintf's formatter writing nowhere (a floating conversion traps, as in sprintf), then
   the output goes to the origin as usual. A call whose value is discarded (the common case) is compiled
   to the __pfx_*_nocount variant instead (lower/calls.py), which skips the count. */
static int __pfx_count(const char *fmt, char *ap) {
    struct __pfx_out o; o.buf = 0; o.cap = 0; o.n = 0;
    return __pfx_format(&o, fmt, ap);
}
int printf(const char *fmt, ...) {
    va_list ap = __pfx_va_start(); int n = __pfx_count(fmt, ap); __pfx_print(fmt, ap); return n;
}
int vprintf(const char *fmt, va_list ap) { int n = __pfx_count(fmt, ap); __pfx_print(fmt, ap); return n; }
static int __pfx_fformat(FILE *f, const char *fmt, char *ap);
int fprintf(FILE *f, const char *fmt, ...) {
    va_list ap = __pfx_va_start();
    if (f->fd == 3) return __pfx_fformat(f, fmt, ap);
    int n = __pfx_count(fmt, ap);
    if (f->fd == 1) __pfx_print(fmt, ap);
    return n;
}
int vfprintf(FILE *f, const char *fmt, va_list ap) {
    if (f->fd == 3) return __pfx_fformat(f, fmt, ap);
    int n = __pfx_count(fmt, ap);
    if (f->fd == 1) __pfx_print(fmt, ap);
    return n;
}
int __pfx_printf_nocount(const char *fmt, ...) { va_list ap = __pfx_va_start(); __pfx_print(fmt, ap); return 0; }
int __pfx_vprintf_nocount(const char *fmt, va_list ap) { __pfx_print(fmt, ap); return 0; }
int __pfx_fprintf_nocount(FILE *f, const char *fmt, ...) {
    va_list ap = __pfx_va_start();
    if (f->fd == 3) __pfx_fformat(f, fmt, ap);
    else if (f->fd == 1) __pfx_print(fmt, ap);
    return 0;
}
int __pfx_vfprintf_nocount(FILE *f, const char *fmt, va_list ap) {
    if (f->fd == 3) __pfx_fformat(f, fmt, ap);
    else if (f->fd == 1) __pfx_print(fmt, ap);
    return 0;
}

size_t strlen(const char *s) { const char *p = s; while (*p) p++; return (size_t)(p - s); }
int strcmp(const char *a, const char *b) {
    while (*a && *a == *b) { a++; b++; }
    return (int)(unsigned char)*a - (int)(unsigned char)*b;
}
int strncmp(const char *a, const char *b, size_t n) {
    for (; n; n--, a++, b++) {
        if (*a != *b || !*a) return (int)(unsigned char)*a - (int)(unsigned char)*b;
    }
    return 0;
}
char *strcpy(char *d, const char *s) { char *r = d; while ((*d++ = *s++)) ; return r; }
char *strncpy(char *d, const char *s, size_t n) {
    char *r = d;
    for (; n && *s; n--) *d++ = *s++;
    for (; n; n--) *d++ = 0;
    return r;
}
char *strcat(char *d, const char *s) { strcpy(d + strlen(d), s); return d; }
char *strncat(char *d, const char *s, size_t n) {
    char *p = d + strlen(d);
    for (; n && *s; n--) *p++ = *s++;
    *p = 0;
    return d;
}
char *strchr(const char *s, int c) {
    for (;; s++) { if (*s == (char)c) return (char *)s; if (!*s) return 0; }
}
char *strrchr(const char *s, int c) {
    const char *r = 0;
    for (;; s++) { if (*s == (char)c) r = s; if (!*s) return (char *)r; }
}
char *strstr(const char *h, const char *n) {
    size_t k = strlen(n);
    for (; *h; h++) if (!strncmp(h, n, k)) return (char *)h;
    return k ? 0 : (char *)h;
}
void *memcpy(void *d, const void *s, size_t n) {
    char *dp = d; const char *sp = s;
    if ((((unsigned long)dp | (unsigned long)sp | n) & 7) == 0) {
        for (; n; n -= 8, dp += 8, sp += 8) *(unsigned long *)dp = *(const unsigned long *)sp;
        return d;
    }
    while (n--) *dp++ = *sp++;
    return d;
}
void *memmove(void *d, const void *s, size_t n) {
    char *dp = d; const char *sp = s;
    if (dp < sp) while (n--) *dp++ = *sp++;
    else { dp += n; sp += n; while (n--) *--dp = *--sp; }
    return d;
}
void *memset(void *d, int c, size_t n) {
    unsigned char *p = d;
    if ((((unsigned long)p | n) & 7) == 0) {
        unsigned long w = (unsigned char)c * 0x0101010101010101UL;
        for (; n; n -= 8, p += 8) *(unsigned long *)p = w;
        return d;
    }
    while (n--) *p++ = (unsigned char)c;
    return d;
}
int memcmp(const void *a, const void *b, size_t n) {
    const unsigned char *x = a, *y = b;
    for (; n; n--, x++, y++) if (*x != *y) return *x - *y;
    return 0;
}

/* malloc: first fit over a free list, 16-byte headers; blocks split when the rest is big enough. */
struct __pfx_blk { size_t size; struct __pfx_blk *next; };
static char *__pfx_brk;
static char *__pfx_vla_top;  /* the VLA stack, see __pfx_vla_mark below; 0 until a VLA is used */
static struct __pfx_blk *__pfx_free_list;
void *malloc(size_t n) {
    if (n > ((size_t)1 << 40)) return 0;
    n = (n + 15) & ~(size_t)15;
    if (!n) n = 16;
    struct __pfx_blk **pp = &__pfx_free_list;
    for (struct __pfx_blk *b = *pp; b; pp = &b->next, b = *pp) {
        if (b->size >= n) {
            if (b->size >= n + 48) {
                struct __pfx_blk *rest = (struct __pfx_blk *)((char *)b + 16 + n);
                rest->size = b->size - n - 16;
                rest->next = b->next;
                *pp = rest;
                b->size = n;
            } else {
                *pp = b->next;
            }
            b->next = (struct __pfx_blk *)1;
            return (char *)b + 16;
        }
    }
    if (!__pfx_brk) __pfx_brk = __pfx_heap_start;
    if (n + 16 > (size_t)((__pfx_vla_top ? __pfx_vla_top : __pfx_heap_end) - __pfx_brk)) return 0;
    struct __pfx_blk *b = (struct __pfx_blk *)__pfx_brk;
    b->size = n;
    b->next = (struct __pfx_blk *)1;
    __pfx_brk += n + 16;
    return (char *)b + 16;
}
void free(void *p) {
    if (!p) return;
    struct __pfx_blk *b = (struct __pfx_blk *)((char *)p - 16);
    if ((char *)b < __pfx_heap_start || (char *)p >= __pfx_brk || b->next != (struct __pfx_blk *)1) __pfx_trap(3);
    b->next = __pfx_free_list;
    __pfx_free_list = b;
}
/* Variable-length arrays live on a second stack, growing down from the end of the heap (malloc's
   blocks grow up towards it; see lower/vla.py): a function with VLAs takes the mark on entry and
   releases to it on return; a VLA is allocated below the innermost VLA still in scope (or the mark),
   so storage of VLAs whose scope was left by a jump is reclaimed there. */
char *__pfx_vla_mark(void) {
    if (!__pfx_vla_top) __pfx_vla_top = __pfx_heap_end;
    return __pfx_vla_top;
}
void *__pfx_vla_alloc(char *base, size_t n) {
    char *low = __pfx_brk ? __pfx_brk : __pfx_heap_start;
    if (!base) __pfx_trap(7);  /* a jump into the scope of a VLA past its declaration */
    if (n > (size_t)(base - low)) __pfx_trap(6);
    char *p = (char *)((size_t)(base - n) & ~(size_t)15);
    if (p < low) __pfx_trap(6);
    __pfx_vla_top = p;
    return p;
}
void __pfx_vla_release(char *base) { __pfx_vla_top = base; }
void *calloc(size_t n, size_t size) {
    if (size && n > ((size_t)1 << 40) / size) return 0;
    void *p = malloc(n * size);
    if (p) memset(p, 0, (n * size + 15) & ~(size_t)15);
    return p;
}
void *realloc(void *p, size_t n) {
    if (!p) return malloc(n);
    struct __pfx_blk *b = (struct __pfx_blk *)((char *)p - 16);
    if (b->size >= n) return p;
    void *q = malloc(n);
    if (q) { memcpy(q, p, b->size); free(p); }
    return q;
}

int abs(int x) { return x < 0 ? -x : x; }
long labs(long x) { return x < 0 ? -x : x; }
long long llabs(long long x) { return x < 0 ? -x : x; }
void exit(int status) { __pfx_halt(status); }
void abort(void) { __pfx_trap(1); }
void __pfx_assert_fail(const char *expr, const char *file, int line) { __pfx_trap(2); }

int isdigit(int c) { return c >= '0' && c <= '9'; }
int isalpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
int isalnum(int c) { return isdigit(c) || isalpha(c); }
int isspace(int c) { return c == ' ' || (c >= 9 && c <= 13); }
int isupper(int c) { return c >= 'A' && c <= 'Z'; }
int islower(int c) { return c >= 'a' && c <= 'z'; }
int isxdigit(int c) { return isdigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
int toupper(int c) { return islower(c) ? c - 32 : c; }
int tolower(int c) { return isupper(c) ? c + 32 : c; }

unsigned long strtoul(const char *s, char **end, int base) {
    const char *p = s;
    while (isspace(*p)) p++;
    int neg = 0;
    if (*p == '+' || *p == '-') neg = *p++ == '-';
    if ((base == 0 || base == 16) && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && isxdigit(p[2])) { p += 2; base = 16; }
    else if (base == 0) base = *p == '0' ? 8 : 10;
    unsigned long v = 0;
    const char *start = p;
    for (;; p++) {
        int d = isdigit(*p) ? *p - '0' : islower(*p) ? *p - 'a' + 10 : isupper(*p) ? *p - 'A' + 10 : 99;
        if (d >= base) break;
        v = v * base + d;
    }
    if (end) *end = (char *)(p == start ? s : p);
    return neg ? -v : v;
}
long strtol(const char *s, char **end, int base) { return (long)strtoul(s, end, base); }
int atoi(const char *s) { return (int)strtol(s, 0, 10); }
long atol(const char *s) { return strtol(s, 0, 10); }

/* rand: glibc's default generator (TYPE_3 additive feedback), so sequences match gcc builds. */
static int __pfx_rand_r[34];
static unsigned __pfx_rand_tab[31];
static int __pfx_rand_f, __pfx_rand_b, __pfx_rand_init;
void srand(unsigned seed) {
    int i;
    if (seed == 0) seed = 1;
    __pfx_rand_tab[0] = seed;
    for (i = 1; i < 31; i++) {
        long hi = (long)(int)__pfx_rand_tab[i - 1] / 127773;
        long lo = (long)(int)__pfx_rand_tab[i - 1] % 127773;
        long word = 16807 * lo - 2836 * hi;
        if (word < 0) word += 2147483647;
        __pfx_rand_tab[i] = (unsigned)word;
    }
    __pfx_rand_f = 3;
    __pfx_rand_b = 0;
    __pfx_rand_init = 1;
    for (i = 0; i < 310; i++) {
        __pfx_rand_tab[__pfx_rand_f] += __pfx_rand_tab[__pfx_rand_b];
        if (++__pfx_rand_f >= 31) __pfx_rand_f = 0;
        if (++__pfx_rand_b >= 31) __pfx_rand_b = 0;
    }
}
int rand(void) {
    if (!__pfx_rand_init) srand(1);
    __pfx_rand_tab[__pfx_rand_f] += __pfx_rand_tab[__pfx_rand_b];
    int r = (int)(__pfx_rand_tab[__pfx_rand_f] >> 1);
    if (++__pfx_rand_f >= 31) __pfx_rand_f = 0;
    if (++__pfx_rand_b >= 31) __pfx_rand_b = 0;
    return r;
}

double fabs(double x) { return x < 0 ? -x : x; }
double floor(double x) {
    if (!(x == x) || fabs(x) >= 4503599627370496.0) return x;
    double t = (double)(long)x;
    return t > x ? t - 1.0 : t;
}
double ceil(double x) { return -floor(-x); }
double fmod(double x, double y) {
    if (y == 0.0) return (x - x) / (y - y);
    double q = x / y;
    q = q < 0 ? -floor(-q) : floor(q);
    return x - q * y;
}
/* sin/cos: reduction by pi/2 (Cody-Waite, three parts) and Taylor polynomials on [-pi/4, pi/4]. */
static double __pfx_sin_poly(double x) {
    double x2 = x * x;
    return x + x * x2 * (-1.0 / 6 + x2 * (1.0 / 120 + x2 * (-1.0 / 5040 + x2 * (1.0 / 362880 + x2 * (-1.0 / 39916800
             + x2 * (1.0 / 6227020800.0 + x2 * (-1.0 / 1307674368000.0)))))));
}
static double __pfx_cos_poly(double x) {
    double x2 = x * x;
    return 1.0 + x2 * (-0.5 + x2 * (1.0 / 24 + x2 * (-1.0 / 720 + x2 * (1.0 / 40320 + x2 * (-1.0 / 3628800
             + x2 * (1.0 / 479001600.0 + x2 * (-1.0 / 87178291200.0)))))));
}
static double __pfx_trig(double x, int cosine) {
    if (!(x == x) || fabs(x) > 1e15) return (x - x) / (x - x);
    double k = floor(x * 0.63661977236758134308 + 0.5);
    double r = ((x - k * 1.57079632673412561417) - k * 6.07710050650619224932e-11) - k * 2.02226624879595063154e-21;
    long q = ((long)k + cosine) & 3;
    double v = (q & 1) ? __pfx_cos_poly(r) : __pfx_sin_poly(r);
    return (q & 2) ? -v : v;
}
double sin(double x) { return __pfx_trig(x, 0); }
double cos(double x) { return __pfx_trig(x, 1); }

/* qsort: a stable merge sort (glibc's qsort is a merge sort too when memory allows). */
static void __pfx_copy(char *d, const char *s, size_t n) { while (n--) *d++ = *s++; }
void qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *)) {
    if (n < 2) return;
    char *a = base;
    char *tmp = malloc(n * size);
    if (!tmp) __pfx_trap(1);
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                if (cmp(a + j * size, a + i * size) < 0) { __pfx_copy(tmp + k * size, a + j * size, size); j++; }
                else { __pfx_copy(tmp + k * size, a + i * size, size); i++; }
                k++;
            }
            while (i < mid) { __pfx_copy(tmp + k * size, a + i * size, size); i++; k++; }
            while (j < hi) { __pfx_copy(tmp + k * size, a + j * size, size); j++; k++; }
        }
        __pfx_copy(a, tmp, n * size);
    }
    free(tmp);
}

/* Files: an in-memory file table held by the running program (a list of named byte buffers on its heap).
   Files exist only for the run: fopen(name, "r") finds a file written earlier in the same run, never
   the host's file system. Modes r, w, a, with + and b as in C. */
struct __pfx_fnode { char *name; char *data; size_t size; size_t cap; struct __pfx_fnode *next; };
static struct __pfx_fnode *__pfx_files;
FILE *fopen(const char *name, const char *mode) {
    int plus = 0;
    for (const char *m = mode + 1; *m; m++) if (*m == '+') plus = 1;
    if (mode[0] != 'r' && mode[0] != 'w' && mode[0] != 'a') return 0;
    struct __pfx_fnode *node = __pfx_files;
    while (node && strcmp(node->name, name)) node = node->next;
    if (!node) {
        if (mode[0] == 'r') return 0;
        node = malloc(sizeof *node);
        if (!node) return 0;
        size_t k = strlen(name);
        node->name = malloc(k + 1);
        if (!node->name) { free(node); return 0; }
        memcpy(node->name, name, k + 1);
        node->data = 0; node->size = 0; node->cap = 0;
        node->next = __pfx_files;
        __pfx_files = node;
    }
    FILE *f = malloc(sizeof *f);
    if (!f) return 0;
    f->fd = 3; f->node = node; f->eof = 0; f->ungot = -1; f->pos = 0;
    f->readable = mode[0] == 'r' || plus;
    f->writable = mode[0] != 'r' || plus;
    f->append = mode[0] == 'a';
    if (mode[0] == 'w') node->size = 0;
    return f;
}
int fclose(FILE *f) {
    if (f->fd == 3) free(f);
    return 0;
}
static int __pfx_fput(FILE *f, const char *p, size_t n) {
    if (f->fd == 1) { for (size_t i = 0; i < n; i++) __pfx_emit(1, (unsigned char)p[i], 1); return 1; }
    if (f->fd != 3) return f->fd == 2;
    if (!f->writable) return 0;
    struct __pfx_fnode *node = f->node;
    if (f->append) f->pos = node->size;
    if (f->pos + n > node->cap) {
        size_t cap = node->cap ? node->cap : 64;
        while (cap < f->pos + n) cap *= 2;
        char *data = malloc(cap);
        if (!data) return 0;
        if (node->size) memcpy(data, node->data, node->size);
        if (node->data) free(node->data);
        node->data = data;
        node->cap = cap;
    }
    while (node->size < f->pos) node->data[node->size++] = 0;
    memcpy(node->data + f->pos, p, n);
    f->pos += n;
    if (f->pos > node->size) node->size = f->pos;
    f->ungot = -1;
    return 1;
}
size_t fwrite(const void *p, size_t size, size_t n, FILE *f) {
    if (!size || !n) return 0;
    return __pfx_fput(f, p, size * n) ? n : 0;
}
int fputc(int c, FILE *f) { char ch = (char)c; return __pfx_fput(f, &ch, 1) ? (unsigned char)c : -1; }
int putc(int c, FILE *f) { return fputc(c, f); }
int fputs(const char *s, FILE *f) { return __pfx_fput(f, s, strlen(s)) ? 1 : -1; }
int fgetc(FILE *f) {
    if (f->ungot >= 0) { int c = f->ungot; f->ungot = -1; f->pos++; return c; }
    if (f->fd != 3 || !f->readable || f->pos >= f->node->size) { f->eof = 1; return -1; }
    return (unsigned char)f->node->data[f->pos++];
}
int getc(FILE *f) { return fgetc(f); }
int getchar(void) { return fgetc(stdin); }
int ungetc(int c, FILE *f) {
    if (c == -1 || f->fd != 3 || f->pos == 0) return -1;
    f->pos--; f->ungot = (unsigned char)c; f->eof = 0;
    return (unsigned char)c;
}
size_t fread(void *p, size_t size, size_t n, FILE *f) {
    if (!size || !n) return 0;
    char *d = p;
    size_t want = size * n, got = 0;
    while (got < want) {
        int c = fgetc(f);
        if (c < 0) break;
        d[got++] = (char)c;
    }
    return got / size;
}
char *fgets(char *s, int n, FILE *f) {
    int i = 0;
    if (n <= 0) return 0;
    while (i < n - 1) {
        int c = fgetc(f);
        if (c < 0) break;
        s[i++] = (char)c;
        if (c == '\n') break;
    }
    if (!i) return 0;
    s[i] = 0;
    return s;
}
int feof(FILE *f) { return f->eof; }
int ferror(FILE *f) { return 0; }
void clearerr(FILE *f) { f->eof = 0; }
long ftell(FILE *f) { return f->fd == 3 ? (long)f->pos : -1; }
int fseek(FILE *f, long off, int whence) {
    if (f->fd != 3) return -1;
    long base = whence == 0 ? 0 : whence == 1 ? (long)f->pos : whence == 2 ? (long)f->node->size : -1;
    if (base < 0 || base + off < 0) return -1;
    f->pos = (size_t)(base + off); f->eof = 0; f->ungot = -1;
    return 0;
}
void rewind(FILE *f) { fseek(f, 0, 0); }
int remove(const char *name) {
    struct __pfx_fnode **pp = &__pfx_files;
    for (; *pp; pp = &(*pp)->next) if (!strcmp((*pp)->name, name)) { *pp = (*pp)->next; return 0; }
    return -1;
}
static int __pfx_fformat(FILE *f, const char *fmt, char *ap) {
    int n = __pfx_count(fmt, ap);
    char *buf = malloc((size_t)n + 1);
    if (!buf) return -1;
    struct __pfx_out o; o.buf = buf; o.cap = (size_t)n + 1; o.n = 0;
    __pfx_format(&o, fmt, ap);
    int ok = __pfx_fput(f, buf, (size_t)n);
    free(buf);
    return ok ? n : -1;
}
"""
