/* Variable-length arrays: runtime sizes and sizeof, 2-D VLAs and VLAs of fixed rows, VLA parameters,
   pointers into them, a VLA re-declared by a backward goto and in loops (its storage reused: thousands
   of iterations must not run out of memory), break and continue out of their blocks. */
#include <stdio.h>

static long sum(int n, int a[n]) {
    long s = 0;
    for (int i = 0; i < n; i++) s += a[i];
    return s;
}

static long trace(int n, int m[][4]) {
    long s = 0;
    for (int i = 0; i < n && i < 4; i++) s += m[i][i];
    return s;
}

static int fill_and_check(int n, int m) {
    int grid[n][m];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++)
            grid[i][j] = i * 100 + j;
    int (*row)[m] = grid;
    int bad = 0;
    for (int i = 0; i < n; i++, row++)
        for (int j = 0; j < m; j++)
            bad += (*row)[j] != i * 100 + j;
    int *last = &grid[n - 1][m - 1];
    printf("grid %dx%d: sizeof=%zu row=%zu elem=%zu last=%d rows apart=%td bad=%d\n", n, m, sizeof grid,
           sizeof grid[0], sizeof grid[0][0], *last, &grid[n - 1] - &grid[0], bad);
    return grid[n / 2][m / 2];
}

static int goto_back(int n) {
    int rounds = 0;
again:;
    char buf[n + rounds];
    buf[0] = (char)('a' + rounds);
    printf("round %d: sizeof buf=%zu first=%c\n", rounds, sizeof buf, buf[0]);
    if (++rounds < 3) goto again;
    return rounds;
}

static long loops(int n) {
    long total = 0;
    for (int k = 0; k < 3000; k++) {
        double big[n];  /* 8 KiB each iteration: storage is released at the end of every iteration */
        big[k % n] = k;
        total += (long)big[k % n];
        if (k % 7 == 0) continue;
        total += (long)sizeof big;
    }
    for (int k = 0; ; k++) {
        long tmp[n / 4 + k];
        tmp[0] = k;
        if (k == 2000) { total += tmp[0]; break; }
    }
    return total;
}

int main(int argc, char **argv) {
    int n = argc + 4;  /* 5 */
    int a[n];
    for (int i = 0; i < n; i++) a[i] = i * i;
    printf("sizeof a=%zu n=%zu sum=%ld\n", sizeof a, sizeof a / sizeof a[0], sum(n, a));
    int fixed[n][4];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < 4; j++)
            fixed[i][j] = i + j * 10;
    printf("fixed rows: sizeof=%zu trace=%ld\n", sizeof fixed, trace(n, fixed));
    printf("center=%d\n", fill_and_check(n, n + 2));
    printf("center=%d\n", fill_and_check(3, 1));
    printf("rounds=%d\n", goto_back(n));
    printf("loops=%ld\n", loops(1024));
    size_t s = sizeof(int[n][3]);
    printf("sizeof(int[n][3])=%zu\n", s);
    int *p = a + 2;
    p[1] = -7;
    printf("a[3]=%d last=%d\n", a[3], *(a + n - 1));
    typedef int Row[n];  /* the size is taken when the typedef runs */
    n += 100;
    Row rows[2], *rp = rows;
    for (int i = 0; i < (int)(sizeof(Row) / sizeof(int)); i++) { rows[0][i] = i; rows[1][i] = 10 * i; }
    printf("typedef: %zu %zu %d %d\n", sizeof(Row), sizeof rows, rp[1][2], (*(rp + 1))[4]);
    n -= 100;
    {
        char inner[n * 3];
        for (int i = 0; i < (int)sizeof inner; i++) inner[i] = (char)('A' + i);
        printf("%.*s\n", (int)sizeof inner, inner);
    }
    return 0;
}
