"""The one error type of the converter: what went wrong, where, and what is supported."""


class ConversionError(ValueError):
    """A model that cannot be converted: malformed, or using something we do not support.

    The message names the model file, the operator and its index in the subgraph where one is
    involved, and what to do about it.
    """

    def __init__(self, message, *, model=None, op_index=None, op_kind=None):
        self.detail = message  # without the model and operator prefix
        self.model = model
        self.op_index = op_index
        self.op_kind = op_kind
        where = []
        if model:
            where.append(str(model))
        if op_index is not None:
            where.append(f"operator #{op_index} ({op_kind})")
        prefix = ": ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)

    def at(self, *, model=None, op_index=None, op_kind=None) -> "ConversionError":
        """The same error with the context it lacks filled in (the model file, the operator)."""
        if self.op_index is not None:
            op_index, op_kind = self.op_index, self.op_kind
        return ConversionError(self.detail, model=self.model or model, op_index=op_index,
                               op_kind=op_kind)
