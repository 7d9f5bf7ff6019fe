/* Reads an mmst:// URL through FFmpeg's own MMS protocol (libavformat's
 * mmst.c, through avio) and writes what it returns -- the ASF header, then
 * the data packets as FFmpeg pads them -- to a file.
 *
 * FFmpeg's protocol has no end of stream: it logs the server's
 * ReportEndOfStream as "unexpected packet type 0x1e" and its read loop
 * retries for ever (interop-notes.md). A log callback spots that message
 * and an interrupt callback then ends the read, so the program stops
 * exactly at the server's end of stream. Any other error-level log line is
 * echoed and makes the exit status non-zero.
 *
 * Built by mms-server/tests/ffmpeg.rs with `cc ... -lavformat -lavutil`. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <libavformat/avio.h>
#include <libavutil/error.h>
#include <libavutil/log.h>

static volatile int end_of_stream;
static int errors;

static void on_log(void *avcl, int level, const char *fmt, va_list vl) {
    (void)avcl;
    if (level > AV_LOG_ERROR)
        return;
    char line[1024];
    vsnprintf(line, sizeof line, fmt, vl);
    if (strstr(line, "unexpected packet type 0x1e")) {
        end_of_stream = 1;
        return;
    }
    if (end_of_stream)
        return; /* FFmpeg's retries after the end: not our concern */
    errors++;
    fputs(line, stderr);
}

static int interrupted(void *opaque) {
    (void)opaque;
    return end_of_stream;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s URL OUT\n", argv[0]);
        return 2;
    }
    av_log_set_callback(on_log);
    AVIOInterruptCB cb = {interrupted, NULL};
    AVIOContext *io = NULL;
    int r = avio_open2(&io, argv[1], AVIO_FLAG_READ, &cb, NULL);
    if (r < 0) {
        fprintf(stderr, "avio_open2: %s\n", av_err2str(r));
        return 3;
    }
    FILE *f = fopen(argv[2], "wb");
    if (!f) {
        avio_closep(&io);
        return 4;
    }
    unsigned char buf[65536];
    while ((r = avio_read_partial(io, buf, sizeof buf)) > 0)
        fwrite(buf, 1, (size_t)r, f);
    fclose(f);
    avio_closep(&io);
    if (!end_of_stream) {
        fprintf(stderr, "the stream ended without ReportEndOfStream: %s\n",
                r == 0 ? "end of file" : av_err2str(r));
        return 5;
    }
    return errors ? 6 : 0;
}
