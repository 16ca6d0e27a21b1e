/* GNU __attribute__((packed)) and aligned(N) on struct/union types and members: layout (sizeof,
   offsetof, _Alignof, alignment inside other structs) as gcc on x86-64, and reads/writes of the
   unaligned members, struct copies and arrays of packed structs. */
#include <stdio.h>
#include <stddef.h>
#include <string.h>

struct __attribute__((packed)) A { char c; int i; short s; long l; };
struct B { char c; int i; short s; long l; } __attribute__((packed));
typedef union __attribute__((__packed__)) U { unsigned short u; unsigned char b[3]; } U;
struct Inner { int x; double d; };
struct C { char c; struct Inner in; char t; } __attribute__((packed));
struct D { char c; int i __attribute__((packed)); long l; short s __attribute__((packed)); char e; };
struct E { char c; struct A a; int z; };          /* a packed struct inside a normal one */
struct F { char c; struct { char k; long v; } __attribute__((packed)) n[2]; };
struct G { char c; long arr[2] __attribute__((packed)); };

struct __attribute__((aligned(8))) H { int a; };
struct I { char c; } __attribute__((aligned(16)));
struct __attribute__((aligned(8), packed)) J { char a; int b; };
struct K { char a; int b; } __attribute__((aligned(8))) __attribute__((packed));
struct __attribute__((aligned(4))) __attribute__((packed)) L { char a; short b; char c[3]; };
struct M { char c; int x __attribute__((aligned(16))); char d; short s __attribute__((aligned(4), packed)); };
struct N { char c; struct H h; struct I i[2]; };
union __attribute__((aligned(8 + 8))) O { char c; int i; };
struct __attribute__((__aligned__)) P { char c; };
struct Q { char c; int z __attribute__((packed, aligned(2))); };

static struct J gj[2];
static const unsigned long file_scope[] = {sizeof(gj), sizeof(gj[1].b), __alignof__(gj[0].b), _Alignof(gj),
                                           sizeof(*gj), __alignof__(gj->a)};

static long sum_a(struct A a) { return a.c + a.i + a.s + a.l; }
static struct B make_b(int k) { struct B b = {(char)k, k * 1000, (short)(k * 7), k * 100000L}; return b; }

int main(void) {
    printf("A %zu %zu %zu %zu %zu\n", sizeof(struct A), offsetof(struct A, i), offsetof(struct A, s),
           offsetof(struct A, l), _Alignof(struct A));
    printf("B %zu %zu\n", sizeof(struct B), offsetof(struct B, l));
    printf("U %zu %zu\n", sizeof(U), _Alignof(U));
    printf("C %zu %zu %zu\n", sizeof(struct C), offsetof(struct C, in), offsetof(struct C, t));
    printf("D %zu %zu %zu %zu %zu %zu\n", sizeof(struct D), offsetof(struct D, i), offsetof(struct D, l),
           offsetof(struct D, s), offsetof(struct D, e), _Alignof(struct D));
    printf("E %zu %zu %zu\n", sizeof(struct E), offsetof(struct E, a), offsetof(struct E, z));
    printf("F %zu %zu\n", sizeof(struct F), offsetof(struct F, n[1].v));
    printf("G %zu %zu\n", sizeof(struct G), offsetof(struct G, arr[1]));

    printf("H %zu %zu I %zu %zu J %zu %zu %zu K %zu %zu %zu\n", sizeof(struct H), _Alignof(struct H),
           sizeof(struct I), _Alignof(struct I), sizeof(struct J), _Alignof(struct J), offsetof(struct J, b),
           sizeof(struct K), _Alignof(struct K), offsetof(struct K, b));
    printf("L %zu %zu %zu M %zu %zu %zu %zu %zu %zu\n", sizeof(struct L), _Alignof(struct L),
           offsetof(struct L, c), sizeof(struct M), _Alignof(struct M), offsetof(struct M, x),
           offsetof(struct M, d), offsetof(struct M, s), offsetof(struct M, s) % 4);
    printf("N %zu %zu %zu %zu O %zu %zu P %zu %zu Q %zu %zu\n", sizeof(struct N), _Alignof(struct N),
           offsetof(struct N, h), offsetof(struct N, i[1]), sizeof(union O), _Alignof(union O),
           sizeof(struct P), _Alignof(struct P), sizeof(struct Q), offsetof(struct Q, z));
    struct J jv;
    double dv[3];
    printf("alignof expr: %zu %zu %zu %zu %zu\n", _Alignof(jv), __alignof__(jv.b), _Alignof(dv),
           __alignof__(dv[1] + 1), _Alignof((char)1));
    printf("file scope: %lu %lu %lu %lu %lu %lu\n", file_scope[0], file_scope[1], file_scope[2], file_scope[3],
           file_scope[4], file_scope[5]);
    static struct N gn[2];
    gn[1].i[1].c = 'q';
    gn[1].h.a = 12345;
    printf("%c %d %d\n", gn[1].i[1].c, gn[1].h.a, (int)(((char *)&gn[1] - (char *)&gn[0]) % 16));
    struct A arr[3];
    for (int k = 0; k < 3; k++) {
        arr[k].c = (char)('a' + k);
        arr[k].i = -123456 * (k + 1);
        arr[k].s = (short)(-300 - k);
        arr[k].l = 0x0102030405060708L * (k + 1);
    }
    for (int k = 0; k < 3; k++) {
        arr[k].i += 5;
        arr[k].l ^= 0xff;
        printf("%c %d %d %ld %ld\n", arr[k].c, arr[k].i, arr[k].s, arr[k].l, sum_a(arr[k]));
    }
    unsigned char raw[sizeof arr];
    memcpy(raw, arr, sizeof arr);
    unsigned h = 0;
    for (size_t k = 0; k < sizeof raw; k++) h = h * 31 + raw[k];
    printf("bytes %u\n", h);

    struct B b = make_b(9), b2;
    b2 = b;
    b2.l++;
    printf("%d %d %d %ld %ld\n", b2.c, b2.i, b2.s, b2.l, b.l);

    U u;
    u.u = 0xabcd;
    printf("%x %x %x\n", u.u, u.b[0], u.b[1]);

    struct C cc = {1, {2, 3.5}, 4};
    cc.in.d *= 2;
    struct Inner in = cc.in;
    printf("%d %d %g %d %g\n", cc.c, cc.in.x, cc.in.d, cc.t, in.d);

    struct D d = {5, 70000, 1L << 40, -2, 9};
    d.i *= 3;
    d.s--;
    printf("%d %d %ld %d %d\n", d.c, d.i, d.l, d.s, d.e);

    struct E e;
    e.a.l = -1;
    e.a.i = 77;
    e.z = 88;
    printf("%ld %d %d\n", e.a.l, e.a.i, e.z);

    struct F f;
    f.n[1].v = 123456789012L;
    f.n[0].v = f.n[1].v / 3;
    long *pv = &f.n[1].v;  /* unaligned pointer, as gcc allows */
    printf("%ld %ld %ld\n", f.n[0].v, f.n[1].v, *pv);

    struct G g = {1, {10, 20}};
    g.arr[1] += g.arr[0];
    printf("%ld\n", g.arr[1]);
    return 0;
}
