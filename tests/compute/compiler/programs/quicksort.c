#include <stdio.h>
#include <stdlib.h>

/* Quicksort (recursive, Lomuto) on pseudo-random ints, and the library qsort on the same data. */
static unsigned seed = 12345;
static int next(void) { seed = seed * 1103515245u + 12345u; return (int)((seed >> 8) % 10000) - 5000; }

static void swap(int *a, int *b) { int t = *a; *a = *b; *b = t; }

static void quicksort(int *v, int lo, int hi) {
    if (lo >= hi) return;
    int p = v[hi], i = lo;
    for (int j = lo; j < hi; j++)
        if (v[j] < p) swap(&v[i++], &v[j]);
    swap(&v[i], &v[hi]);
    quicksort(v, lo, i - 1);
    quicksort(v, i + 1, hi);
}

static int cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 40;
    int *v = malloc(n * sizeof *v), *w = malloc(n * sizeof *w);
    for (int i = 0; i < n; i++) v[i] = w[i] = next();
    quicksort(v, 0, n - 1);
    qsort(w, n, sizeof *w, cmp);
    long check = 0;
    for (int i = 0; i < n; i++) {
        if (v[i] != w[i]) { printf("mismatch at %d\n", i); return 1; }
        if (i && v[i - 1] > v[i]) { printf("unsorted at %d\n", i); return 2; }
        check = check * 31 + v[i];
    }
    printf("sorted %d: min %d max %d check %ld\n", n, v[0], v[n - 1], check);
    free(v);
    free(w);
    return 0;
}
