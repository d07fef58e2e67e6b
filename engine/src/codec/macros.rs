//! Helper macros for the codec: closed enumerations and open `uint16` registries.

/// A closed RFC 9420 `enum { ... } Name;` encoded as `$repr`; an unknown value is a decode
/// error naming `$field`.
macro_rules! wire_enum {
    (
        $(#[$m:meta])*
        pub enum $name:ident : $repr:ident, Field::$field:ident {
            $( $(#[$vm:meta])* $var:ident = $val:literal ),+ $(,)?
        }
    ) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr($repr)]
        pub enum $name {
            $( $(#[$vm])* $var = $val ),+
        }

        impl $name {
            /// The wire value.
            pub const fn value(self) -> $repr {
                self as $repr
            }

            /// The variant for a wire value, if known.
            pub const fn from_value(v: $repr) -> Option<Self> {
                match v {
                    $( $val => Some($name::$var), )+
                    _ => None,
                }
            }
        }

        impl tls_codec::Size for $name {
            #[inline]
            fn tls_serialized_len(&self) -> usize {
                core::mem::size_of::<$repr>()
            }
        }

        impl tls_codec::Serialize for $name {
            #[inline]
            fn tls_serialize<W: std::io::Write>(
                &self,
                w: &mut W,
            ) -> Result<usize, tls_codec::Error> {
                tls_codec::Serialize::tls_serialize(&self.value(), w)
            }
        }

        impl tls_codec::Deserialize for $name {
            #[inline]
            fn tls_deserialize<R: std::io::Read>(r: &mut R) -> Result<Self, tls_codec::Error> {
                let v = <$repr as tls_codec::Deserialize>::tls_deserialize(r)?;
                Self::from_value(v).ok_or_else(|| $crate::codec::unknown($crate::codec::Field::$field, u64::from(v)))
            }
        }
    };
}

/// An open `uint16` registry (RFC 9420 §17): any value decodes; named constants for the
/// values RFC 9420 defines.
macro_rules! u16_registry {
    (
        $(#[$m:meta])*
        pub struct $name:ident {
            $( $(#[$cm:meta])* $cname:ident = $cval:literal ),* $(,)?
        }
    ) => {
        $(#[$m])*
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            Hash,
            PartialOrd,
            Ord,
            tls_codec::TlsSize,
            tls_codec::TlsSerialize,
            tls_codec::TlsDeserialize,
        )]
        pub struct $name(pub u16);

        impl $name {
            $( $(#[$cm])* pub const $cname: $name = $name($cval); )*
        }

        impl From<u16> for $name {
            fn from(v: u16) -> Self {
                $name(v)
            }
        }
    };
}
