"""The Timbre API's generated code: `timbre.v1` is written here from proto/timbre/v1 by `buf generate`
(buf.gen.yaml; `make proto`) and is not committed. Nothing else lives in this package."""
