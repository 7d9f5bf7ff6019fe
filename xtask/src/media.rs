//! `cargo xtask media`: generates the ASF test set with the real encoders
//! here — FFmpeg's asf muxer and GStreamer's asfmux (an independent muxer)
//! — into `target/media/`, and with `--update-testdata` copies the small
//! committed subset into `testdata/`.

use std::fs;
use std::process::{Command, Stdio};

use crate::{Result, root, sh};

/// One generated file: name, the tool, and its arguments in pieces (the
/// output path is appended; for `pipe`, FFmpeg's stdout is captured).
struct Recipe {
    name: &'static str,
    tool: &'static str,
    args: &'static [&'static [&'static str]],
    /// What the file exercises (goes into testdata/README.md).
    why: &'static str,
}

const QUIET: &[&str] = &["-hide_banner", "-loglevel", "error", "-y"];
/// 3 s of a 96×64 test pattern at 10 frame/s.
const VIDEO_IN: &[&str] = &["-f", "lavfi", "-i", "testsrc=size=96x64:rate=10:duration=3"];
/// 3 s of a 440 Hz tone.
const AUDIO_IN: &[&str] = &[
    "-f",
    "lavfi",
    "-i",
    "sine=frequency=440:duration=3:sample_rate=22050",
];
/// WMV2 video with a key frame every second.
const WMV2: &[&str] = &["-c:v", "wmv2", "-b:v", "64k", "-g", "10"];
/// WMA v2 audio.
const WMA2: &[&str] = &["-c:a", "wmav2", "-b:a", "32k"];
const ASF: &[&str] = &["-f", "asf"];
/// GStreamer sources and encoders.
const GST_AUDIO: &[&str] = &[
    "audiotestsrc",
    "num-buffers=60",
    "!",
    "audio/x-raw,rate=22050,channels=1",
    "!",
    "avenc_wmav2",
    "bitrate=32000",
];
const GST_VIDEO: &[&str] = &[
    "videotestsrc",
    "num-buffers=30",
    "!",
    "video/x-raw,width=96,height=64,framerate=10/1",
    "!",
    "avenc_wmv2",
    "bitrate=64000",
];

const RECIPES: &[Recipe] = &[
    Recipe {
        name: "ff_audio.wma",
        tool: "ffmpeg",
        args: &[QUIET, AUDIO_IN, WMA2, ASF],
        why: "audio only, WMA v2, default 3200-byte packets",
    },
    Recipe {
        name: "ff_av.wmv",
        tool: "ffmpeg",
        args: &[QUIET, VIDEO_IN, AUDIO_IN, WMV2, WMA2, ASF],
        why: "audio + WMV2 video with key frames every second",
    },
    Recipe {
        name: "ff_msmpeg4.asf",
        tool: "ffmpeg",
        args: &[
            QUIET,
            VIDEO_IN,
            &["-c:v", "msmpeg4", "-b:v", "64k", "-g", "15"],
            ASF,
        ],
        why: "video only, MS-MPEG4 v3",
    },
    Recipe {
        name: "ff_small_packets.asf",
        tool: "ffmpeg",
        args: &[
            QUIET,
            VIDEO_IN,
            AUDIO_IN,
            WMV2,
            WMA2,
            &["-packet_size", "512"],
            ASF,
        ],
        why: "512-byte packets: fragmented media objects, single-payload packets",
    },
    Recipe {
        name: "ff_big_packets.asf",
        tool: "ffmpeg",
        args: &[
            QUIET,
            VIDEO_IN,
            AUDIO_IN,
            WMV2,
            WMA2,
            &["-packet_size", "16000"],
            ASF,
        ],
        why: "16000-byte packets: WORD padding lengths, many payloads per packet",
    },
    Recipe {
        name: "ff_lang.wmv",
        tool: "ffmpeg",
        args: &[
            QUIET,
            VIDEO_IN,
            AUDIO_IN,
            &[
                "-f",
                "lavfi",
                "-i",
                "sine=frequency=880:duration=3:sample_rate=22050",
            ],
            &["-map", "0:v", "-map", "1:a", "-map", "2:a"],
            WMV2,
            WMA2,
            &[
                "-metadata:s:a:0",
                "language=eng",
                "-metadata:s:a:1",
                "language=fra",
            ],
            ASF,
        ],
        why: "two audio languages: Language List, Group Mutual Exclusion",
    },
    Recipe {
        name: "ff_live.asf",
        tool: "pipe",
        args: &[QUIET, VIDEO_IN, AUDIO_IN, WMV2, WMA2, &["-f", "asf_stream"]],
        why: "piped asf_stream: MMSH chunks ($H/$D/$E), Broadcast flag, packet count 0",
    },
    Recipe {
        name: "gst_audio.wma",
        tool: "gst-launch-1.0",
        args: &[
            &["-q"],
            GST_AUDIO,
            &["!", "asfmux", "!", "filesink", "location=%OUT%"],
        ],
        why: "GStreamer asfmux (independent muxer), audio only",
    },
    Recipe {
        name: "gst_av.wmv",
        tool: "gst-launch-1.0",
        args: &[
            &["-q", "asfmux", "name=m", "!", "filesink", "location=%OUT%"],
            GST_VIDEO,
            &["!", "m."],
            GST_AUDIO,
            &["!", "m."],
        ],
        why: "GStreamer asfmux, audio + video",
    },
];

/// Output options for every FFmpeg recipe: no metadata or encoder strings
/// that change between runs.
const FF_OUT: &[&str] = &[
    "-map_metadata",
    "-1",
    "-fflags",
    "+bitexact",
    "-flags",
    "+bitexact",
];

pub(crate) fn run(update_testdata: bool) -> Result {
    let root = root();
    let out_dir = root.join("target/media");
    fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;
    for tool in ["ffmpeg", "gst-launch-1.0"] {
        if Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_err()
        {
            return Err(format!("{tool} is not installed: run `cargo xtask deps`"));
        }
    }
    for r in RECIPES {
        let out = out_dir.join(r.name);
        let out_s = out.to_string_lossy().into_owned();
        let args: Vec<String> = r
            .args
            .concat()
            .iter()
            .map(|a| a.replace("%OUT%", &out_s))
            .collect();
        eprintln!("media: {} — {}", r.name, r.why);
        match r.tool {
            "pipe" => {
                let o = Command::new("ffmpeg")
                    .args(&args)
                    .args(FF_OUT)
                    .arg("pipe:1")
                    .output()
                    .map_err(|e| e.to_string())?;
                if !o.status.success() {
                    return Err(format!(
                        "ffmpeg for {}: {}",
                        r.name,
                        String::from_utf8_lossy(&o.stderr)
                    ));
                }
                fs::write(&out, o.stdout).map_err(|e| e.to_string())?;
            }
            "ffmpeg" => sh(Command::new("ffmpeg").args(&args).args(FF_OUT).arg(&out_s))?,
            tool => sh(Command::new(tool).args(&args))?,
        }
    }
    if update_testdata {
        let td = root.join("testdata");
        fs::create_dir_all(&td).map_err(|e| e.to_string())?;
        let mut total = 0;
        let mut readme = String::from(
            "# testdata\n\nSmall ASF files for the tests, made by `cargo xtask media --update-testdata` \
             (FFmpeg's asf muxer and GStreamer's asfmux). Regenerate rather than edit.\n\n\
             | file | bytes | what it exercises |\n|---|---:|---|\n",
        );
        for r in RECIPES {
            let src = out_dir.join(r.name);
            let n = fs::metadata(&src).map_err(|e| e.to_string())?.len();
            total += n;
            fs::copy(&src, td.join(r.name)).map_err(|e| e.to_string())?;
            readme.push_str(&format!("| `{}` | {} | {} |\n", r.name, n, r.why));
        }
        fs::write(td.join("README.md"), readme).map_err(|e| e.to_string())?;
        eprintln!("testdata: {} files, {} bytes", RECIPES.len(), total);
        if total > 2 << 20 {
            return Err(format!("testdata is {total} bytes, over the 2 MiB budget"));
        }
    }
    Ok(())
}
