from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DTYPE_UNSPECIFIED: _ClassVar[DType]
    FLOAT32: _ClassVar[DType]
    BFLOAT16: _ClassVar[DType]
DTYPE_UNSPECIFIED: DType
FLOAT32: DType
BFLOAT16: DType

class TensorSpec(_message.Message):
    __slots__ = ("name", "shape")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    shape: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, name: _Optional[str] = ..., shape: _Optional[_Iterable[int]] = ...) -> None: ...

class ParamLayout(_message.Message):
    __slots__ = ("tensors", "sha256")
    TENSORS_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    tensors: _containers.RepeatedCompositeFieldContainer[TensorSpec]
    sha256: str
    def __init__(self, tensors: _Optional[_Iterable[_Union[TensorSpec, _Mapping]]] = ..., sha256: _Optional[str] = ...) -> None: ...

class RegisterTaskRequest(_message.Message):
    __slots__ = ("du_id", "task_json", "layout")
    DU_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_JSON_FIELD_NUMBER: _ClassVar[int]
    LAYOUT_FIELD_NUMBER: _ClassVar[int]
    du_id: str
    task_json: str
    layout: ParamLayout
    def __init__(self, du_id: _Optional[str] = ..., task_json: _Optional[str] = ..., layout: _Optional[_Union[ParamLayout, _Mapping]] = ...) -> None: ...

class RegisterTaskResponse(_message.Message):
    __slots__ = ("round", "meta_version", "max_chunk_bytes", "groups")
    ROUND_FIELD_NUMBER: _ClassVar[int]
    META_VERSION_FIELD_NUMBER: _ClassVar[int]
    MAX_CHUNK_BYTES_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    round: int
    meta_version: int
    max_chunk_bytes: int
    groups: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, round: _Optional[int] = ..., meta_version: _Optional[int] = ..., max_chunk_bytes: _Optional[int] = ..., groups: _Optional[_Iterable[str]] = ...) -> None: ...

class TdStat(_message.Message):
    __slots__ = ("group", "variance", "count")
    GROUP_FIELD_NUMBER: _ClassVar[int]
    VARIANCE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    group: str
    variance: float
    count: int
    def __init__(self, group: _Optional[str] = ..., variance: _Optional[float] = ..., count: _Optional[int] = ...) -> None: ...

class BeginUpdateRequest(_message.Message):
    __slots__ = ("du_id", "round", "base_version", "dtype", "total_bytes", "chunk_bytes", "sha256", "td", "samples")
    DU_ID_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    BASE_VERSION_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    CHUNK_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    TD_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    du_id: str
    round: int
    base_version: int
    dtype: DType
    total_bytes: int
    chunk_bytes: int
    sha256: bytes
    td: _containers.RepeatedCompositeFieldContainer[TdStat]
    samples: int
    def __init__(self, du_id: _Optional[str] = ..., round: _Optional[int] = ..., base_version: _Optional[int] = ..., dtype: _Optional[_Union[DType, str]] = ..., total_bytes: _Optional[int] = ..., chunk_bytes: _Optional[int] = ..., sha256: _Optional[bytes] = ..., td: _Optional[_Iterable[_Union[TdStat, _Mapping]]] = ..., samples: _Optional[int] = ...) -> None: ...

class BeginUpdateResponse(_message.Message):
    __slots__ = ("upload_id", "missing_chunks", "n_chunks")
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    MISSING_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    N_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    missing_chunks: _containers.RepeatedScalarFieldContainer[int]
    n_chunks: int
    def __init__(self, upload_id: _Optional[str] = ..., missing_chunks: _Optional[_Iterable[int]] = ..., n_chunks: _Optional[int] = ...) -> None: ...

class UploadChunkRequest(_message.Message):
    __slots__ = ("upload_id", "index", "data", "sha256")
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    index: int
    data: bytes
    sha256: bytes
    def __init__(self, upload_id: _Optional[str] = ..., index: _Optional[int] = ..., data: _Optional[bytes] = ..., sha256: _Optional[bytes] = ...) -> None: ...

class UploadChunkResponse(_message.Message):
    __slots__ = ("index", "duplicate")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    index: int
    duplicate: bool
    def __init__(self, index: _Optional[int] = ..., duplicate: bool = ...) -> None: ...

class CommitUpdateRequest(_message.Message):
    __slots__ = ("upload_id",)
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    def __init__(self, upload_id: _Optional[str] = ...) -> None: ...

class CommitUpdateResponse(_message.Message):
    __slots__ = ("round", "accepted_in_round", "round_closed")
    ROUND_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_IN_ROUND_FIELD_NUMBER: _ClassVar[int]
    ROUND_CLOSED_FIELD_NUMBER: _ClassVar[int]
    round: int
    accepted_in_round: int
    round_closed: bool
    def __init__(self, round: _Optional[int] = ..., accepted_in_round: _Optional[int] = ..., round_closed: bool = ...) -> None: ...

class WatchMetaInitRequest(_message.Message):
    __slots__ = ("du_id", "known_version")
    DU_ID_FIELD_NUMBER: _ClassVar[int]
    KNOWN_VERSION_FIELD_NUMBER: _ClassVar[int]
    du_id: str
    known_version: int
    def __init__(self, du_id: _Optional[str] = ..., known_version: _Optional[int] = ...) -> None: ...

class TaskWeight(_message.Message):
    __slots__ = ("du_id", "group", "weight")
    DU_ID_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    du_id: str
    group: str
    weight: float
    def __init__(self, du_id: _Optional[str] = ..., group: _Optional[str] = ..., weight: _Optional[float] = ...) -> None: ...

class MetaInitChunk(_message.Message):
    __slots__ = ("version", "round", "weights", "dtype", "total_bytes", "sha256", "index", "n_chunks", "data")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    N_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    version: int
    round: int
    weights: _containers.RepeatedCompositeFieldContainer[TaskWeight]
    dtype: DType
    total_bytes: int
    sha256: bytes
    index: int
    n_chunks: int
    data: bytes
    def __init__(self, version: _Optional[int] = ..., round: _Optional[int] = ..., weights: _Optional[_Iterable[_Union[TaskWeight, _Mapping]]] = ..., dtype: _Optional[_Union[DType, str]] = ..., total_bytes: _Optional[int] = ..., sha256: _Optional[bytes] = ..., index: _Optional[int] = ..., n_chunks: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class GetStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetStatusResponse(_message.Message):
    __slots__ = ("round", "meta_version", "registered_dus", "reporting_dus", "last_weights", "sdl_ok")
    ROUND_FIELD_NUMBER: _ClassVar[int]
    META_VERSION_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_DUS_FIELD_NUMBER: _ClassVar[int]
    REPORTING_DUS_FIELD_NUMBER: _ClassVar[int]
    LAST_WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    SDL_OK_FIELD_NUMBER: _ClassVar[int]
    round: int
    meta_version: int
    registered_dus: _containers.RepeatedScalarFieldContainer[str]
    reporting_dus: _containers.RepeatedScalarFieldContainer[str]
    last_weights: _containers.RepeatedCompositeFieldContainer[TaskWeight]
    sdl_ok: bool
    def __init__(self, round: _Optional[int] = ..., meta_version: _Optional[int] = ..., registered_dus: _Optional[_Iterable[str]] = ..., reporting_dus: _Optional[_Iterable[str]] = ..., last_weights: _Optional[_Iterable[_Union[TaskWeight, _Mapping]]] = ..., sdl_ok: bool = ...) -> None: ...
