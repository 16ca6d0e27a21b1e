/* A variadic logger on top of vsnprintf/vsprintf/vprintf/vfprintf, and printf's return value: output
   compared with gcc's. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static char logbuf[256];
static int used;

static int logf_(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(logbuf + used, sizeof logbuf - used, fmt, ap);
    va_end(ap);
    if (n > 0) used += n < (int)(sizeof logbuf - used) ? n : (int)(sizeof logbuf - used) - 1;
    return n;
}

static int show(const char *fmt, ...) {
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    char tmp[128];
    int a = vsprintf(tmp, fmt, ap);
    int b = vprintf(fmt, again);
    va_end(again);
    va_end(ap);
    printf(" <- %d %d [%s]\n", a, b, tmp);
    return a;
}

static void to_stream(FILE *f, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
}

int main(void) {
    logf_("%d-%s|", 42, "abc");
    logf_("%5x|%-4c|", 255u, 'q');
    logf_("%ld %lu %%|", -9000000000L, 18000000000UL);
    printf("%s (%d bytes)\n", logbuf, used);
    show("%s=%03d", "k", 7);
    show("%p", (void *)0);
    char small[8];
    va_list none;
    (void)none;
    int n = snprintf(small, sizeof small, "%s", "truncated text");
    printf("%d %s %zu\n", n, small, strlen(small));
    to_stream(stdout, "stream %d\n", 5);
    int r = printf("%s %5d %c %lx\n", "ab", 12345, 'z', 0xbeefUL);   /* printf's value is its length */
    int (*pf)(const char *, ...) = printf;                            /* also through a pointer */
    int r2 = pf("x%dy%%\n", -5);
    int r3 = fprintf(stderr, "to stderr %d\n", 7) + (printf("t\n"), 0);
    printf("%d %d %d\n", r, r2, r3);
    return used % 7;
}
