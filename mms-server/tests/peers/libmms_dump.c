/* Reads an mms:// URL with libmms and writes what mms_read() returns (the
 * ASF header, then the data packets as libmms pads them) to a file.
 * Built by mms-server/tests/libmms.rs with `cc … -lmms`. mms_read() fills
 * the whole buffer before it returns, so reads are small and each is
 * flushed: a live stream stopped by a signal leaves what was read. */
#include <stdio.h>
#include <libmms/mms.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s URL OUT\n", argv[0]);
        return 2;
    }
    mms_t *m = mms_connect(NULL, NULL, argv[1], 10000000);
    if (!m) {
        fprintf(stderr, "mms_connect failed\n");
        return 3;
    }
    FILE *f = fopen(argv[2], "wb");
    if (!f) {
        mms_close(m);
        return 4;
    }
    char buf[4096];
    int n;
    while ((n = mms_read(NULL, m, buf, sizeof buf)) > 0) {
        fwrite(buf, 1, (size_t)n, f);
        fflush(f);
    }
    fclose(f);
    mms_close(m);
    return n < 0 ? 5 : 0;
}
