#include <stdio.h>
#include <string.h>

/* Function pointers: tables, callbacks, returned pointers, a tiny stack VM dispatching through them. */
typedef long (*binop)(long, long);
static long add(long a, long b) { return a + b; }
static long sub(long a, long b) { return a - b; }
static long mul(long a, long b) { return a * b; }
static long maxf(long a, long b) { return a > b ? a : b; }
static const struct { char sym; binop fn; } ops[] = {{'+', add}, {'-', sub}, {'*', mul}, {'M', maxf}};

static binop lookup(char c) {
    for (unsigned i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (ops[i].sym == c) return ops[i].fn;
    return 0;
}

static long fold(const long *v, int n, binop f, long acc) {
    for (int i = 0; i < n; i++) acc = f(acc, v[i]);
    return acc;
}

static long run(const char *prog) {
    long stack[16];
    int sp = 0;
    for (; *prog; prog++) {
        if (*prog >= '0' && *prog <= '9') stack[sp++] = *prog - '0';
        else { binop f = lookup(*prog); long b = stack[--sp], a = stack[--sp]; stack[sp++] = (*f)(a, b); }
    }
    return stack[0];
}

int main(void) {
    long v[] = {3, -1, 4, 1, -5, 9, 2, 6};
    printf("%ld %ld %ld\n", fold(v, 8, add, 0), fold(v, 8, mul, 1), fold(v, 8, maxf, -100));
    printf("%ld %ld\n", run("34+5*"), run("92-3M7*"));
    printf("%d\n", lookup('?') == 0);
    return 0;
}
