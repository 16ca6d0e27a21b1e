#include <stdio.h>
#include <stdlib.h>

/* Integer and double matrix multiply with 2-D arrays. */
#define MAXN 24
static int a[MAXN][MAXN], b[MAXN][MAXN], c[MAXN][MAXN];
static double x[MAXN][MAXN], y[MAXN][MAXN], z[MAXN][MAXN];

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 6;
    if (n > MAXN) n = MAXN;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            a[i][j] = (i * 7 + j * 3) % 11 - 5;
            b[i][j] = (i * 5 + j * 2) % 13 - 6;
            x[i][j] = (i + 1) / (double)(j + 2);
            y[i][j] = (j - i) * 0.25f;
        }
    long trace = 0;
    double fsum = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            int s = 0;
            double t = 0;
            for (int k = 0; k < n; k++) {
                s += a[i][k] * b[k][j];
                t += x[i][k] * y[k][j];
            }
            c[i][j] = s;
            z[i][j] = t;
            fsum += t;
        }
    for (int i = 0; i < n; i++) trace += c[i][i];
    printf("n=%d trace=%ld c[0][n-1]=%d sum=%.6f z=%g\n", n, trace, c[0][n - 1], fsum, z[n - 1][0]);
    return 0;
}
