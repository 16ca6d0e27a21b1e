#include <stdio.h>

/* float <-> double through memory: normals, subnormals, zeros, infinities, NaN; conversions to and from
   integers; float arithmetic rounded to binary32. */
union fb { float f; unsigned u; };

static unsigned bits(float f) { union fb x; x.f = f; return x.u; }

int main(void) {
    volatile float vals[10];
    float tiny = 1e-38f, huge = 3e38f;
    vals[0] = 1.5f; vals[1] = -0.0f; vals[2] = tiny / 1024.0f; vals[3] = 1e-45f; vals[4] = huge * 10.0f;
    vals[5] = -huge * 10.0f; vals[6] = 0.1f; vals[7] = 16777217.0f; vals[8] = (float)(1.0 / 3.0);
    vals[9] = tiny * tiny;
    for (int i = 0; i < 10; i++) printf("%d %08x %g\n", i, bits(vals[i]), (double)vals[i]);
    float z = vals[1] - vals[1];
    float nan = z / z;
    printf("nan %d %d\n", nan == nan, (bits(nan) & 0x7f800000u) == 0x7f800000u);
    double d = 123456789.987654321;
    float f = (float)d;
    int i = (int)f;
    unsigned u = (unsigned)(f / 3.0f);
    long long ll = (long long)(-d * 1000.0);
    unsigned long long ull = (unsigned long long)(d * 1e6);
    printf("%.9g %d %u %lld %llu\n", (double)f, i, u, ll, ull);
    float acc = 0.0f;
    for (int k = 1; k <= 100; k++) acc += 1.0f / (float)k;
    printf("%.9g %08x\n", (double)acc, bits(acc));
    return 0;
}
