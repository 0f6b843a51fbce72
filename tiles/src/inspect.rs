//! Reading a tile back: the Mapbox Vector Tile 2.1 protobuf decoded with `prost` into
//! layers, features and attributes, for tests, checks and debugging — an independent
//! reader, not the encoder run backwards.

use std::collections::BTreeMap;
use std::io::Read;

use flate2::read::GzDecoder;
use prost::Message;

mod proto {
    //! vector_tile.proto, version 2.1.

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Tile {
        #[prost(message, repeated, tag = "3")]
        pub layers: Vec<Layer>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Value {
        #[prost(string, optional, tag = "1")]
        pub string_value: Option<String>,
        #[prost(float, optional, tag = "2")]
        pub float_value: Option<f32>,
        #[prost(double, optional, tag = "3")]
        pub double_value: Option<f64>,
        #[prost(int64, optional, tag = "4")]
        pub int_value: Option<i64>,
        #[prost(uint64, optional, tag = "5")]
        pub uint_value: Option<u64>,
        #[prost(sint64, optional, tag = "6")]
        pub sint_value: Option<i64>,
        #[prost(bool, optional, tag = "7")]
        pub bool_value: Option<bool>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Feature {
        #[prost(uint64, optional, tag = "1")]
        pub id: Option<u64>,
        #[prost(uint32, repeated, tag = "2")]
        pub tags: Vec<u32>,
        #[prost(int32, optional, tag = "3")]
        pub r#type: Option<i32>,
        #[prost(uint32, repeated, tag = "4")]
        pub geometry: Vec<u32>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Layer {
        #[prost(uint32, required, tag = "15")]
        pub version: u32,
        #[prost(string, required, tag = "1")]
        pub name: String,
        #[prost(message, repeated, tag = "2")]
        pub features: Vec<Feature>,
        #[prost(string, repeated, tag = "3")]
        pub keys: Vec<String>,
        #[prost(message, repeated, tag = "4")]
        pub values: Vec<Value>,
        #[prost(uint32, optional, tag = "5")]
        pub extent: Option<u32>,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("tile is not valid gzip: {0}")]
    Gzip(#[from] std::io::Error),
    #[error("tile is not a vector tile: {0}")]
    Protobuf(#[from] prost::DecodeError),
    #[error("layer {layer}: a tag points past the key or value table")]
    Tag { layer: String },
}

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Attribute {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Attribute {
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Attribute::Int(v) => Some(*v as f64),
            Attribute::Float(v) => Some(*v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Attribute::Text(text) => Some(text),
            _ => None,
        }
    }
}

/// The MVT geometry types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeometryType {
    Unknown,
    Point,
    LineString,
    Polygon,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DecodedFeature {
    pub geometry_type: GeometryType,
    pub attributes: BTreeMap<String, Attribute>,
    /// The raw command stream.
    pub geometry: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DecodedLayer {
    pub name: String,
    pub version: u32,
    pub extent: u32,
    pub features: Vec<DecodedFeature>,
}

/// Decodes a tile, gzip-compressed or not.
pub fn decode(bytes: &[u8]) -> Result<Vec<DecodedLayer>, DecodeError> {
    let raw = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut inflated = Vec::new();
        GzDecoder::new(bytes).read_to_end(&mut inflated)?;
        inflated
    } else {
        bytes.to_vec()
    };
    let tile = proto::Tile::decode(raw.as_slice())?;
    tile.layers.into_iter().map(decode_layer).collect()
}

fn decode_layer(layer: proto::Layer) -> Result<DecodedLayer, DecodeError> {
    let tag_error = || DecodeError::Tag {
        layer: layer.name.clone(),
    };
    let mut features = Vec::with_capacity(layer.features.len());
    for feature in &layer.features {
        let mut attributes = BTreeMap::new();
        for pair in feature.tags.chunks(2) {
            let [key, value] = pair else {
                return Err(tag_error());
            };
            let key = layer.keys.get(*key as usize).ok_or_else(tag_error)?;
            let value = layer.values.get(*value as usize).ok_or_else(tag_error)?;
            attributes.insert(key.clone(), attribute(value));
        }
        features.push(DecodedFeature {
            geometry_type: match feature.r#type.unwrap_or(0) {
                1 => GeometryType::Point,
                2 => GeometryType::LineString,
                3 => GeometryType::Polygon,
                _ => GeometryType::Unknown,
            },
            attributes,
            geometry: feature.geometry.clone(),
        });
    }
    Ok(DecodedLayer {
        extent: layer.extent.unwrap_or(4096),
        version: layer.version,
        name: layer.name,
        features,
    })
}

fn attribute(value: &proto::Value) -> Attribute {
    if let Some(text) = &value.string_value {
        return Attribute::Text(text.clone());
    }
    if let Some(v) = value.double_value {
        return Attribute::Float(v);
    }
    if let Some(v) = value.float_value {
        return Attribute::Float(f64::from(v));
    }
    if let Some(v) = value.int_value.or(value.sint_value) {
        return Attribute::Int(v);
    }
    if let Some(v) = value.uint_value {
        return Attribute::Int(v as i64);
    }
    Attribute::Bool(value.bool_value.unwrap_or(false))
}
