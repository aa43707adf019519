package dev.arbor.models.weights;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.arbor.models.ModelLoadException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One {@code .safetensors} file, memory-mapped into an {@link Arena}: an 8-byte little-endian
 * header length, a JSON header {@code name -> {dtype, shape, data_offsets}}, then the data.
 * Everything is validated at open (dtype, offsets inside the file, byte count = shape × dtype), so
 * a bad file fails here with the file and tensor named, never later inside a matmul.
 */
public final class SafeTensorsFile {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** A sanity bound on the header; real headers are well under a megabyte per thousand tensors. */
    private static final long MAX_HEADER_BYTES = 100L << 20;

    private final Path path;
    private final Map<String, Tensor> tensors;

    private SafeTensorsFile(Path path, Map<String, Tensor> tensors) {
        this.path = path;
        this.tensors = tensors;
    }

    public Path path() { return path; }

    /** Tensors in header order. */
    public Map<String, Tensor> tensors() { return tensors; }

    /** Maps and validates {@code path}; the mapping lives as long as {@code arena}. */
    public static SafeTensorsFile open(Path path, Arena arena) {
        MemorySegment file;
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            file = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
        } catch (IOException e) {
            throw new ModelLoadException("cannot read weights file " + path + ": " + e, e);
        }
        long size = file.byteSize();
        if (size < 8) {
            throw new ModelLoadException("weights file " + path + " is truncated: " + size + " bytes, no header length");
        }
        long headerLen = file.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (headerLen <= 0 || headerLen > MAX_HEADER_BYTES || headerLen > size - 8) {
            throw new ModelLoadException("weights file " + path + " is truncated or corrupt: header length "
                    + headerLen + " but the file has " + size + " bytes");
        }
        byte[] headerBytes = file.asSlice(8, headerLen).toArray(ValueLayout.JAVA_BYTE);
        JsonNode header;
        try {
            header = JSON.readTree(new String(headerBytes, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new ModelLoadException("weights file " + path + " has an unreadable JSON header: " + e.getMessage(), e);
        }
        if (header == null || !header.isObject()) {
            throw new ModelLoadException("weights file " + path + " header is not a JSON object");
        }
        MemorySegment data = file.asSlice(8 + headerLen);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().equals("__metadata__")) continue;
            tensors.put(e.getKey(), parseEntry(path, e.getKey(), e.getValue(), data));
        }
        return new SafeTensorsFile(path, Map.copyOf(tensors));
    }

    private static Tensor parseEntry(Path path, String name, JsonNode entry, MemorySegment data) {
        String where = "tensor " + name + " in " + path;
        String dtypeName = entry.path("dtype").asText("");
        DType dtype = DType.fromSafetensors(dtypeName).orElseThrow(() -> new ModelLoadException(
                where + " has unsupported dtype '" + dtypeName + "' (supported: BF16, F16, F32)"));
        JsonNode shapeNode = entry.path("shape");
        JsonNode offsets = entry.path("data_offsets");
        if (!shapeNode.isArray() || !offsets.isArray() || offsets.size() != 2) {
            throw new ModelLoadException(where + " has a malformed header entry: " + entry);
        }
        long[] shape = new long[shapeNode.size()];
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            shape[i] = shapeNode.get(i).asLong(-1);
            if (shape[i] < 0) throw new ModelLoadException(where + " has a negative dimension: " + shapeNode);
            numel = Math.multiplyExact(numel, shape[i]);
        }
        long begin = offsets.get(0).asLong(-1), end = offsets.get(1).asLong(-1);
        if (begin < 0 || end < begin || end > data.byteSize()) {
            throw new ModelLoadException(where + " has data_offsets [" + begin + ", " + end
                    + "] outside the file's data section of " + data.byteSize() + " bytes (truncated file or corrupt header)");
        }
        if (end - begin != numel * dtype.bytes()) {
            throw new ModelLoadException(where + " has " + (end - begin) + " bytes but shape " + shapeNode
                    + " of " + dtypeName + " needs " + numel * dtype.bytes());
        }
        return new Tensor(name, path.toString(), dtype, shape, data.asSlice(begin, end - begin));
    }
}
