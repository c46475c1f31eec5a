package ohbench.csv;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class CsvLineTest {
    @Test
    void splitsPlainFields() {
        assertEquals(List.of("a", "b", "c"), CsvLine.split("a,b,c"));
    }

    @Test
    void keepsEmptyFields() {
        assertEquals(List.of("a", "", "c", ""), CsvLine.split("a,,c,"));
    }

    @Test
    void joinQuotesFieldsWithCommas() {
        assertEquals("x,\"y,z\",\"say \"\"hi\"\"\"", CsvLine.join(List.of("x", "y,z", "say \"hi\"")));
    }
}
