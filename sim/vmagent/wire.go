package vmagent

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// The two xDS messages the agent needs, encoded by field number, so that
// meshsim does not depend on Envoy's generated API
// (envoy/service/discovery/v3/discovery.proto, envoy/config/core/v3/base.proto):
//
//	DiscoveryRequest  { version_info = 1; node = 2; resource_names = 3; type_url = 4; response_nonce = 5 }
//	Node              { id = 1; cluster = 2; metadata = 3 (Struct); user_agent_name = 6 }
//	DiscoveryResponse { version_info = 1; resources = 2 (Any); type_url = 4; nonce = 5 }

func discoveryRequest(n Node, typeURL, version, nonce string) ([]byte, error) {
	meta, err := n.metadataStruct()
	if err != nil {
		return nil, fmt.Errorf("node metadata: %w", err)
	}
	metaBytes, err := proto.Marshal(meta)
	if err != nil {
		return nil, err
	}
	var node []byte
	node = appendString(node, 1, n.ID)
	node = appendString(node, 2, n.Cluster)
	node = protowire.AppendTag(node, 3, protowire.BytesType)
	node = protowire.AppendBytes(node, metaBytes)
	node = appendString(node, 6, "envoy")
	var req []byte
	req = appendString(req, 1, version)
	req = protowire.AppendTag(req, 2, protowire.BytesType)
	req = protowire.AppendBytes(req, node)
	req = appendString(req, 4, typeURL)
	req = appendString(req, 5, nonce)
	return req, nil
}

func appendString(b []byte, field protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// discoveryResponse is what the agent reads of a DiscoveryResponse.
type discoveryResponse struct {
	Version, TypeURL, Nonce string
	Resources               int
}

func parseDiscoveryResponse(b []byte) (discoveryResponse, error) {
	var r discoveryResponse
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return r, fmt.Errorf("DiscoveryResponse: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if typ != protowire.BytesType {
			n = protowire.ConsumeFieldValue(num, typ, b)
		} else {
			var v []byte
			v, n = protowire.ConsumeBytes(b)
			switch num {
			case 1:
				r.Version = string(v)
			case 2:
				r.Resources++
			case 4:
				r.TypeURL = string(v)
			case 5:
				r.Nonce = string(v)
			}
		}
		if n < 0 {
			return r, fmt.Errorf("DiscoveryResponse: %w", protowire.ParseError(n))
		}
		b = b[n:]
	}
	return r, nil
}

// rawCodec passes encoded messages through gRPC as they are.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.([]byte)
	if !ok {
		return nil, fmt.Errorf("rawCodec: %T is not []byte", v)
	}
	return b, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawCodec: %T is not *[]byte", v)
	}
	*p = append((*p)[:0], data...)
	return nil
}

// Name is "proto": the content subtype istiod's gRPC server expects.
func (rawCodec) Name() string { return "proto" }
