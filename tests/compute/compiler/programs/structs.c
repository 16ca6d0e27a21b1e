#include <stdio.h>

/* Structs and unions by value: passed, returned, nested, in arrays, assigned, bit-fields. */
struct point { int x, y; };
struct rect { struct point lo, hi; char name[8]; };
union word { unsigned int u; unsigned char b[4]; float f; };
struct flags { unsigned a : 3; signed b : 5; unsigned c : 12; };
struct big { long v[20]; short tag; };

static struct point add(struct point a, struct point b) { struct point r = {a.x + b.x, a.y + b.y}; return r; }
static struct rect grow(struct rect r, int d) { r.lo.x -= d; r.lo.y -= d; r.hi.x += d; r.hi.y += d; r.name[0] = 'G'; return r; }
static long area(const struct rect *r) { return (long)(r->hi.x - r->lo.x) * (r->hi.y - r->lo.y); }
static struct big fill(short tag) { struct big b; for (int i = 0; i < 20; i++) b.v[i] = (long)i * tag; b.tag = tag; return b; }
static long sum(struct big b) { long s = b.tag; for (int i = 0; i < 20; i++) s += b.v[i]; return s; }

int main(void) {
    struct point p = {3, -4}, q = {10, 20};
    struct point r = add(p, q);
    struct rect box = {{0, 0}, {5, 7}, "box"};
    struct rect g = grow(box, 2);
    struct rect arr[3];
    union word w;
    struct flags f = {5, -3, 4000};
    struct big b = fill(3), c;
    for (int i = 0; i < 3; i++) { arr[i] = box; arr[i].hi.x += i; }
    w.u = 0x11223344u;
    c = b;
    c.v[19] = -1;
    f.b += 20;
    f.c = f.c * 2 + 1;
    printf("%d %d | %ld %ld %s %s | %ld\n", r.x, r.y, area(&box), area(&g), box.name, g.name, area(&arr[2]));
    printf("%02x %02x | %u %d %u | %ld %ld | %zu %zu\n", w.b[0], w.b[3], f.a, f.b, f.c, sum(b), sum(c),
           sizeof(struct rect), sizeof(struct flags));
    w.f = 1.5f;
    printf("%08x %.3f\n", w.u, (double)w.f);
    return 0;
}
