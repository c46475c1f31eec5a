package demo;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;

class DemoTest {
    @Test
    void passes() {
        assertEquals(2, 1 + 1);
    }

    @Test
    void fails() {
        assertEquals(3, 1 + 1);
    }

    @Test
    void errors() {
        throw new IllegalStateException("boom");
    }

    @Test
    @Disabled("not yet")
    void skipped() {}
}
