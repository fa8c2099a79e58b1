//! The flow inspector: one per flow, fed that flow's bytes in each direction, in
//! order, in pieces of any size; it queues what it learns as [`Observation`]s.

use std::collections::VecDeque;

use crate::dns;
use crate::layer::Layer;
use crate::observation::{Direction, Lost, Observation, Protocol};
use crate::quic::QuicClient;

/// What kind of flow an inspector follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowKind {
    /// A TCP connection; `feed` takes reassembled stream bytes.
    Tcp { dst_port: u16 },
    /// A UDP flow; each `feed` is one datagram's payload.
    Udp { dst_port: u16 },
}

/// DNS is recognised by port (its content has no marker to detect it by).
pub fn is_dns_port(port: u16) -> bool {
    port == 53 || port == 5353 || port == 5355
}

#[derive(Debug)]
enum Udp {
    /// Client datagrams seen without a QUIC Initial (a few are allowed: the first
    /// may have been missed).
    Detect(u8),
    Dns {
        reported_error: bool,
    },
    Quic(Box<QuicClient>),
    Done,
}

/// Inspector of one flow. See the crate docs for an example.
#[derive(Debug)]
pub struct FlowInspector {
    tcp: Option<Layer>,
    udp: Udp,
    out: VecDeque<Observation>,
    /// Work of this inspector and of the parsers it is done with.
    work: crate::Work,
    lost: Option<Lost>,
}

impl FlowInspector {
    pub fn new(kind: FlowKind) -> Self {
        match kind {
            FlowKind::Tcp { dst_port } => FlowInspector {
                tcp: Some(Layer::new(0, is_dns_port(dst_port), None, None)),
                udp: Udp::Done,
                out: VecDeque::new(),
                work: crate::Work::default(),
                lost: None,
            },
            FlowKind::Udp { dst_port } => FlowInspector {
                tcp: None,
                udp: if is_dns_port(dst_port) { Udp::Dns { reported_error: false } } else { Udp::Detect(0) },
                out: VecDeque::new(),
                work: crate::Work::default(),
                lost: None,
            },
        }
    }

    /// A TCP inspector that assumes `protocol` instead of detecting it (fuzzing).
    #[doc(hidden)]
    pub fn with_protocol(protocol: Protocol) -> Self {
        FlowInspector {
            tcp: Some(Layer::forced(protocol)),
            udp: Udp::Done,
            out: VecDeque::new(),
            work: crate::Work::default(),
            lost: None,
        }
    }

    /// Feeds the next bytes of one direction (TCP), or one datagram (UDP).
    pub fn feed(&mut self, dir: Direction, bytes: &[u8]) {
        self.work.bytes_in += bytes.len() as u64;
        let queued = self.out.len();
        if let Some(layer) = &mut self.tcp {
            layer.feed(dir, bytes, &mut self.out);
            self.note_lost(queued);
            return;
        }
        if let Udp::Detect(seen) = self.udp {
            if dir == Direction::ToServer {
                self.udp = if QuicClient::looks_like_initial(bytes) {
                    Udp::Quic(Box::default())
                } else if seen < 3 {
                    Udp::Detect(seen + 1)
                } else {
                    Udp::Done
                };
            }
        }
        match &mut self.udp {
            // A malformed datagram does not stop the next ones from being read:
            // reported once, never a lost flow.
            Udp::Dns { reported_error } => match dns::parse_message(bytes) {
                Ok(info) => {
                    self.work.messages += 1;
                    self.out.push_back(Observation::Dns(info))
                }
                Err(error) if !*reported_error => {
                    *reported_error = true;
                    self.out.push_back(Observation::Unparsed { protocol: Protocol::Dns, error, layer: 0 });
                }
                Err(_) => {}
            },
            Udp::Quic(q) => {
                q.datagram(dir, bytes, &mut self.out);
                if q.finished() {
                    self.work.add(&q.work());
                    self.udp = Udp::Done;
                }
                self.note_lost(queued);
            }
            Udp::Detect(_) | Udp::Done => {}
        }
    }

    /// The first `Unparsed` among the observations queued from `queued` on.
    fn note_lost(&mut self, queued: usize) {
        if self.lost.is_some() {
            return;
        }
        self.lost = self.out.range(queued..).find_map(|o| match o {
            Observation::Unparsed { protocol, error, layer } => {
                let reason = match error {
                    crate::Error::Invalid { what, .. } => *what,
                    crate::Error::Incomplete => "incomplete message",
                };
                Some(Lost { protocol: *protocol, reason, layer: *layer })
            }
            _ => None,
        });
    }

    /// Why the flow can no longer be followed, once it cannot: a layer gave up
    /// (malformed input, a size cap, a tunnel too deep), or the caller did
    /// ([`FlowInspector::give_up`]). A flow whose protocol is simply not one
    /// the inspector reads (SSH, say) is not lost: it names nothing.
    pub fn lost(&self) -> Option<&Lost> {
        self.lost.as_ref()
    }

    /// Bytes the inspector holds for reassembly (buffer capacities), for the
    /// caller's budget across flows.
    pub fn buffered(&self) -> usize {
        match (&self.tcp, &self.udp) {
            (Some(l), _) => l.buffered(),
            (None, Udp::Quic(q)) => q.buffered(),
            _ => 0,
        }
    }

    /// Stops following the flow and frees what it holds (`reason`: the
    /// caller's, e.g. its memory budget); the flow is lost from then on.
    pub fn give_up(&mut self, reason: &'static str) {
        let protocol = match (&self.tcp, &self.udp) {
            (Some(l), _) => l.protocol(),
            (None, Udp::Quic(_)) => Some(Protocol::Quic),
            (None, Udp::Dns { .. }) => Some(Protocol::Dns),
            _ => None,
        };
        if let Some(l) = &mut self.tcp {
            l.give_up();
        }
        if let Udp::Quic(q) = &mut self.udp {
            q.give_up();
            self.work.add(&q.work());
        }
        self.udp = Udp::Done;
        if self.lost.is_none() {
            self.lost = Some(Lost { protocol: protocol.unwrap_or(Protocol::Tls), reason, layer: 0 });
        }
    }

    /// The work done so far (see [`crate::Work`]).
    pub fn work(&self) -> crate::Work {
        let mut w = self.work;
        if let Some(l) = &self.tcp {
            w.add(&l.work());
        }
        if let Udp::Quic(q) = &self.udp {
            w.add(&q.work());
        }
        w
    }

    /// The next observation, oldest first. Call until `None` after each `feed`: the
    /// queue holds what was learned until it is polled.
    pub fn poll(&mut self) -> Option<Observation> {
        self.out.pop_front()
    }

    /// True when feeding more client bytes can teach nothing new: the caller may stop
    /// inspecting the flow (a plain-HTTP proxy connection never finishes: every request
    /// may name another host).
    pub fn is_finished(&self) -> bool {
        match &self.tcp {
            Some(layer) => layer.finished(),
            None => matches!(self.udp, Udp::Done),
        }
    }
}
