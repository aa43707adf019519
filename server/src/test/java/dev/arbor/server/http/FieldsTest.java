package dev.arbor.server.http;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

class FieldsTest {
    private static Fields fields(String json) throws Exception {
        return new Fields(Json.MAPPER.readTree(json));
    }

    @Test
    void absentAndNullReadAsNull() throws Exception {
        Fields f = fields("{\"a\":null}");
        assertNull(f.number("a"));
        assertNull(f.integer("b"));
        assertEquals(List.of(), f.stringOrStrings("stop"));
    }

    @Test
    void wrongTypesName400sWithTheField() throws Exception {
        ApiException e = assertThrows(ApiException.class, () -> fields("{\"n\":2.5}").integer("n"));
        assertEquals(400, e.status());
        assertEquals("n", e.param());
        assertEquals("seed", assertThrows(ApiException.class, () -> fields("{\"seed\":\"x\"}").longInteger("seed")).param());
        assertEquals("stop", assertThrows(ApiException.class, () -> fields("{\"stop\":[\"a\",2]}").stringOrStrings("stop")).param());
    }

    @Test
    void integralDoublesAreIntegers() throws Exception {
        assertEquals(3, fields("{\"n\":3.0}").integer("n"));
        assertEquals(List.of("x"), fields("{\"stop\":\"x\"}").stringOrStrings("stop"));
    }

    @Test
    void engineMessagesNameTheirField() {
        assertEquals("top_p", SamplingFields.fieldNamedIn("invalid sampling parameter 'top_p' = 2.0: must be in (0, 1]"));
        assertNull(SamplingFields.fieldNamedIn("prompt is empty"));
    }
}
