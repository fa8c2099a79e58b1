//! The flow inspector: one per flow, fed that flow's bytes in each direction, in
//! order, in pieces of any size; it queues what it learns as [`Observation`]s.

use std::collections::VecDeque;

use crate::dns;
use crate::layer::Layer;
use crate::observation::{Direction, Observation, Protocol};
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
fn is_dns_port(port: u16) -> bool {
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
}

impl FlowInspector {
    pub fn new(kind: FlowKind) -> Self {
        match kind {
            FlowKind::Tcp { dst_port } => FlowInspector {
                tcp: Some(Layer::new(0, is_dns_port(dst_port), None)),
                udp: Udp::Done,
                out: VecDeque::new(),
            },
            FlowKind::Udp { dst_port } => FlowInspector {
                tcp: None,
                udp: if is_dns_port(dst_port) { Udp::Dns { reported_error: false } } else { Udp::Detect(0) },
                out: VecDeque::new(),
            },
        }
    }

    /// A TCP inspector that assumes `protocol` instead of detecting it (fuzzing).
    #[doc(hidden)]
    pub fn with_protocol(protocol: Protocol) -> Self {
        FlowInspector { tcp: Some(Layer::forced(protocol)), udp: Udp::Done, out: VecDeque::new() }
    }

    /// Feeds the next bytes of one direction (TCP), or one datagram (UDP).
    pub fn feed(&mut self, dir: Direction, bytes: &[u8]) {
        if let Some(layer) = &mut self.tcp {
            layer.feed(dir, bytes, &mut self.out);
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
            Udp::Dns { reported_error } => match dns::parse_message(bytes) {
                Ok(info) => self.out.push_back(Observation::Dns(info)),
                Err(error) if !*reported_error => {
                    *reported_error = true;
                    self.out.push_back(Observation::Unparsed { protocol: Protocol::Dns, error, layer: 0 });
                }
                Err(_) => {}
            },
            Udp::Quic(q) => {
                q.datagram(dir, bytes, &mut self.out);
                if q.finished() {
                    self.udp = Udp::Done;
                }
            }
            Udp::Detect(_) | Udp::Done => {}
        }
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
