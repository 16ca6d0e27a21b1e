/* GNU statement expressions, attributes that do not change the program, `[*]` parameters, declarators
   sharing one struct definition, and unknown escapes (gcc takes the character): output compared with
   gcc's. */
#include <stdio.h>

struct pair { int a, b; };

static int sum(int n, int v[*]);
static int sum(int n, int v[]) {
    return ({ int s = 0; for (int i = 0; i < n; i++) s += v[i]; s; });
}

static int __attribute__((noinline, unused)) twice(int x) { return 2 * x; }
extern int checked_printf(const char *fmt, ...) __attribute__ ((__format__ (__printf__, 1, 2)));
static void stop(void) __attribute__((noreturn));
static void stop(void) { for (;;) {} }

#define MAX(x, y) ({ int _x = (x), _y = (y); _x > _y ? _x : _y; })

int main(void) {
    int counter = 0;
    int m = MAX(counter++, 7);               /* each argument evaluated once */
    int n = ({ int t = 3; t * t; }) + ({ 4; });
    struct pair p = ({ struct pair q = {1, 2}; q.b += 40; q; });
    ({ printf("void statement expression %d\n", m); });
    long w = ({ long acc = 1; int k = 0; while (k < 10) { acc *= 3; k++; } acc; });
    int v[5] = {1, 2, 3, 4, 5};
    int nested = ({ int a = ({ int b = 2; b + 1; }); a * 10; });
    int skipped = 1 ? 5 : ({ printf("never\n"); 6; });
    struct {int a, b;} x, y;
    x.a = 11; x.b = 12; y = x;
    union {struct {int a, b;} c;} u1, u2;
    u1.c.b = 13; u2 = u1;
    struct tagged {char c;} t1, t2;
    t1.c = 'z'; t2 = t1;
    printf("%d %d %d %d %ld %d %d %d\n", counter, m, n, p.b, w, sum(5, v), nested, skipped);
    printf("%d %d %d %c\n", y.a, y.b, u2.c.b, t2.c);
    printf("%c%c %d %s\n", (char)'\j', (char)'\q', twice(21), "__attribute__((packed))");
    if (counter > 5) stop();
    return ({ int r = p.a - 1; r; });
}
