package dev.arbor.server.http;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * The API keys a server accepts, each mapped to a tenant. A tenant's requests run in its own cache
 * namespace: the server derives the cache salt from the key, so a client cannot claim another
 * tenant's cached blocks or registered prefixes by sending its salt. A client's own
 * {@code cache_salt} still separates namespaces inside its tenant.
 *
 * <p>Keys come from {@code --api-key} (repeatable; each key is a tenant of its own, named by a
 * hash of the key) or a keys file: one {@code TENANT KEY} pair per line, {@code #} comments, several
 * keys may share a tenant.
 */
public final class ApiKeys {
    /** One accepted key: its bytes (compared in constant time) and its tenant. */
    private record Entry(byte[] key, String tenant) {}

    public static final ApiKeys NONE = new ApiKeys(List.of());

    private final List<Entry> entries;

    private ApiKeys(List<Entry> entries) {
        this.entries = List.copyOf(entries);
    }

    /** Keys given one by one: each its own tenant (null or blank keys are ignored). */
    public static ApiKeys of(List<String> keys) {
        List<Entry> out = new ArrayList<>();
        if (keys != null) {
            for (String k : keys) {
                if (k == null || k.isBlank()) continue;
                out.add(new Entry(k.strip().getBytes(StandardCharsets.UTF_8), "key-" + fingerprint(k.strip())));
            }
        }
        return new ApiKeys(out);
    }

    public static ApiKeys single(String key) {
        return of(key == null ? List.of() : List.of(key));
    }

    /** These keys plus a keys file's {@code TENANT KEY} lines. */
    public ApiKeys withFile(Path file) {
        List<Entry> out = new ArrayList<>(entries);
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read API keys file " + file, e);
        }
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#")) continue;
            String[] parts = line.split("\\s+");
            if (parts.length != 2) {
                throw new IllegalArgumentException(file + " line " + (i + 1) + ": expected 'TENANT KEY', got " + parts.length + " fields");
            }
            out.add(new Entry(parts[1].getBytes(StandardCharsets.UTF_8), parts[0]));
        }
        return new ApiKeys(out);
    }

    public boolean required() {
        return !entries.isEmpty();
    }

    /**
     * The tenant of {@code key}, or null when it is not accepted. Every configured key is compared in
     * constant time, so timing reveals neither how much of a key was right nor which key matched.
     */
    public String tenantOf(String key) {
        byte[] given = key.getBytes(StandardCharsets.UTF_8);
        String tenant = null;
        for (Entry e : entries) {
            if (MessageDigest.isEqual(e.key(), given) && tenant == null) tenant = e.tenant();
        }
        return tenant;
    }

    private static String fingerprint(String key) {
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(h, 0, 6);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
