/* C11 _Generic: selection by the controlling expression's type after lvalue conversion (qualifiers
   dropped at the top, kept below; arrays and functions decay), typedef names, structs, default,
   long double apart from double, and _Generic as an lvalue, in a constant and in sizeof. */
#include <stdio.h>

#define KIND(x) _Generic((x), \
    _Bool: "_Bool", char: "char", signed char: "signed char", unsigned char: "unsigned char", \
    short: "short", unsigned short: "unsigned short", int: "int", unsigned: "unsigned", \
    long: "long", unsigned long: "unsigned long", long long: "long long", \
    unsigned long long: "unsigned long long", float: "float", double: "double", \
    long double: "long double", char *: "char *", const char *: "const char *", \
    int *: "int *", const int *: "const int *", volatile int *: "volatile int *", \
    int **: "int **", const int **: "const int **", int *const *: "int *const *", \
    int (*)[3]: "int (*)[3]", int (*)(int): "int (*)(int)", struct P: "struct P", \
    struct P *: "struct P *", const struct P *: "const struct P *", default: "other")

struct P { int x; const int cx; const char *name; char *mut; int arr[3]; };
typedef const int cint;
typedef int *iptr;
typedef const char *cstr;
enum color { RED, GREEN };
static int twice(int v) { return 2 * v; }
static const char *label(void) { return "L"; }
static int counter;

static const char *param_kind(const int a[], char s[4], int f(int)) {
    static char buf[64];
    snprintf(buf, sizeof buf, "%s|%s|%s", KIND(a), KIND(s), KIND(f));
    return buf;
}

int main(void) {
    char c = 'a'; signed char sc = 1; unsigned char uc = 2; short s = 3; unsigned short us = 4;
    int i = 5; unsigned u = 6; long l = 7; unsigned long ul = 8; long long ll = 9;
    unsigned long long ull = 10; float f = 1.5f; double d = 2.5; long double ld = 3.5L; _Bool b = 1;
    const int ci = 1; volatile int vi = 2; cint ci2 = 3; iptr ip = &i; const iptr cip = &i;
    cstr cs = "x"; const char *const csc = "y"; char buf[8] = "z";
    int *p = &i; const int *pc = &ci; int *const pk = &i; const int *const pck = &ci;
    int **pp = &p; const int **ppc = &pc; int *const *pkp = &pk;
    int arr[3] = {1, 2, 3}; const int carr[2] = {4, 5}; int m[2][3];
    struct P pt = {1, 2, "n", buf, {0}}; const struct P cpt = {3, 4, "c", buf, {0}};
    struct P *ppt = &pt; const struct P *cppt = &cpt;
    enum color col = GREEN;
    (void)vi; (void)m;

    printf("%s %s %s %s %s %s\n", KIND(c), KIND(sc), KIND(uc), KIND(s), KIND(us), KIND(b));
    printf("%s %s %s %s %s %s\n", KIND(i), KIND(u), KIND(l), KIND(ul), KIND(ll), KIND(ull));
    printf("%s %s %s %s %s\n", KIND(f), KIND(d), KIND(ld), KIND(ld * 2), KIND(1.0L));
    printf("%s %s %s %s %s\n", KIND('a'), KIND(1u), KIND(1ul), KIND(1ll), KIND(0x7fffffffffffffff));
    printf("%s %s %s %s\n", KIND(c + c), KIND(s * us), KIND(u + l), KIND(f + 1));
    printf("%s %s %s %s %s\n", KIND(ci), KIND(vi), KIND(ci2), KIND(col), KIND(RED));
    printf("%s %s %s %s %s\n", KIND(ip), KIND(cip), KIND(cs), KIND(csc), KIND(buf));
    printf("%s %s %s %s\n", KIND(p), KIND(pc), KIND(pk), KIND(pck));
    printf("%s %s %s %s %s\n", KIND(pp), KIND(ppc), KIND(pkp), KIND(*ppc), KIND(**pkp));
    printf("%s %s %s %s %s\n", KIND(arr), KIND(carr), KIND(&arr), KIND(m[1]), KIND(&m[1]));
    printf("%s %s %s %s\n", KIND("lit"), KIND(&"lit"[1]), KIND(twice), KIND(&twice));
    printf("%s %s %s %s\n", KIND(label()), KIND(twice(1)), KIND(label), KIND(param_kind));
    printf("%s %s %s %s %s\n", KIND(pt), KIND(cpt), KIND(ppt), KIND(cppt), KIND(&cpt));
    printf("%s %s %s %s %s\n", KIND(pt.x), KIND(pt.cx), KIND(&pt.cx), KIND(&cpt.x), KIND(&cppt->x));
    printf("%s %s %s %s\n", KIND(pt.name), KIND(cpt.mut), KIND(pt.arr), KIND(cpt.arr));
    printf("%s %s %s %s\n", KIND((const char *)buf), KIND((char)i), KIND(p + 1), KIND(pc - 1));
    printf("%s %s %s %s\n", KIND(i ? p : p), KIND(i = 3), KIND(i++), KIND((i, pc)));
    printf("%s\n", param_kind(arr, buf, twice));
    printf("%s %s\n", KIND(1 == 2), KIND(sizeof(int)));

    /* the controlling expression is not evaluated; only the chosen association is */
    int r = _Generic(counter++, int: 10, default: counter += 100);
    printf("%d %d\n", r, counter);
    _Generic(i, int: i, default: u) = 42;
    _Generic(cs, const char *: l, char *: ll) += 1;
    printf("%d %ld %lld\n", i, l, ll);
    printf("%zu %zu\n", sizeof(_Generic(d, double: c, default: d)), sizeof _Generic(c, char: d));
    static const int table[] = {_Generic(1.0f, float: 4, default: 8), _Generic('x', char: 1, int: 2)};
    printf("%d %d\n", table[0], table[1]);
    return 0;
}
