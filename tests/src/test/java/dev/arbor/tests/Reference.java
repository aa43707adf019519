package dev.arbor.tests;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The parts of a fixture model's reference.json that end-to-end tests use. */
record Reference(List<Case> cases, String system, List<Case> sharedPrefixCases) {

    record Case(String name, String prompt, int[] inputIds, int[] greedyIds, int[] argmax) {}

    static Reference read(Path modelDir) {
        try {
            JsonNode root = new ObjectMapper().readTree(modelDir.resolve("reference.json").toFile());
            return new Reference(cases(root.get("cases")), root.get("shared_prefix").get("system").asText(),
                    cases(root.get("shared_prefix").get("cases")));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static List<Case> cases(JsonNode arr) {
        List<Case> out = new ArrayList<>();
        for (JsonNode c : arr) {
            out.add(new Case(c.get("name").asText(), c.get("prompt").asText(), ints(c.get("input_ids")),
                    ints(c.get("greedy_ids")), ints(c.get("argmax"))));
        }
        return out;
    }

    private static int[] ints(JsonNode a) {
        int[] r = new int[a.size()];
        for (int i = 0; i < r.length; i++) r[i] = a.get(i).asInt();
        return r;
    }

    List<Case> allCases() {
        List<Case> all = new ArrayList<>(cases);
        all.addAll(sharedPrefixCases);
        return all;
    }
}
