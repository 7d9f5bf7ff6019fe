//! Prints the packet headers and payloads of an ASF file (debugging aid).
#![allow(missing_docs, clippy::print_stdout)]
use mms_proto::asf::*;
use mms_proto::wire::Status;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bytes = std::fs::read(&args[1]).expect("read the file");
    let max: usize = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(usize::MAX);
    let mut r = AsfReader::default();
    let mut off = 0;
    let mut p_size = 0;
    while let Ok(Status::Complete(u)) = r.next(&bytes[off..]) {
        match u {
            AsfUnit::Header {
                len,
                start,
                packet_size,
            } => {
                let s = HeaderSummary::parse(&bytes[off + start..off + len]).expect("header");
                println!(
                    "header {} bytes, P {}, {} packets, preroll {} ms, flags {:#x}",
                    len - start,
                    packet_size,
                    s.packet_count,
                    s.preroll_ms,
                    s.flags
                );
                for st in &s.streams {
                    println!(
                        "  stream {} {:?} {:?} {} bit/s lang {:?}",
                        st.number, st.kind, st.codec, st.bitrate, st.language_index
                    );
                }
                p_size = packet_size;
                off += len;
            }
            AsfUnit::Packet { len, start, number } => {
                let p = &bytes[off + start..off + len];
                if (number as usize) < max {
                    match PacketInfo::parse(p) {
                        Ok(i) => {
                            println!(
                                "packet {number}: {} bytes ltf {:#04x} pf {:#04x} L {} pad {} payloads {}..{} send {} dur {}",
                                p.len(),
                                i.length_type_flags,
                                i.property_flags,
                                i.len,
                                i.padding_len,
                                i.payload_start,
                                i.payload_end,
                                i.send_time,
                                i.duration
                            );
                            for pl in i.payloads(p) {
                                match pl {
                                    Ok(pl) => println!(
                                        "    s{} key={} mon {} off {} rep {} data {} [{}..{}]",
                                        pl.stream,
                                        pl.key_frame,
                                        pl.media_object_number,
                                        pl.offset,
                                        pl.replicated_data.len(),
                                        pl.data.len(),
                                        pl.start,
                                        pl.end
                                    ),
                                    Err(e) => println!("    error: {e}"),
                                }
                            }
                            let mut out = vec![0u8; p_size + 8];
                            if let Ok(Rewritten::Packet(n)) =
                                rewrite(p, p_size, &Selection::EVERYTHING, Padding::Strip, &mut out)
                            {
                                println!("  strip -> {n} bytes: {:02x?}", &out[..24.min(n)]);
                            }
                        }
                        Err(e) => println!("packet {number}: error {e}"),
                    }
                }
                off += len;
            }
            AsfUnit::End => break,
        }
    }
}
