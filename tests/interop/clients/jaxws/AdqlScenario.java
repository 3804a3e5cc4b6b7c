// The `adql` part of the JAX-WS interop scenario (steps 12-15), through the classes
// wsimport generated from ADQL_ENDPOINT?wsdl. See JaxwsClient.java.
//
// The `// generated` imports are the namespace-derived packages of a plain `wsimport`;
// for `wsimport -p PKG` build.sh rewrites each of them to `import PKG.*;`.

import java.math.BigInteger;
import java.net.URL;
import java.util.ArrayList;
import java.util.List;

import javax.xml.bind.JAXBElement;
import javax.xml.namespace.QName;
import javax.xml.ws.Holder;
import javax.xml.ws.soap.AddressingFeature;
import javax.xml.ws.wsaddressing.W3CEndpointReference;

import org.w3c.dom.Element;

import uws.wsrf.adql.v1.*;                  // generated
import uws.wsrf.core.v1.*;                  // generated
import org.oasis_open.docs.wsrf.rp_2.*;     // generated

final class AdqlScenario {
    private AdqlScenario() { }

    static final QName PHASE = new QName(JaxwsClient.CORE, "Phase");

    static String phase(AdqlPortType job) throws Exception {
        GetResourcePropertyResponse reply = job.getResourceProperty(PHASE);
        JaxwsClient.check(reply.getAny().size() == 1 && reply.getAny().get(0) instanceof JAXBElement,
                          "GetResourceProperty Phase answered " + reply.getAny());
        Object value = ((JAXBElement<?>) reply.getAny().get(0)).getValue();
        JaxwsClient.check(value instanceof PhaseType, "uwscore:Phase holds a " + value.getClass().getName());
        return ((PhaseType) value).value();
    }

    static void run(String endpoint) throws Exception {
        String wsa = JaxwsClient.WSA;
        AdqlService service = new AdqlService(new URL(endpoint + "?wsdl"));
        AdqlPortType factory = service.getAdqlPort(new AddressingFeature(true));
        JaxwsClient.WsaCheck.install(factory, wsa, null);

        Job jdl = new Job();
        Job.Query query = new Job.Query();
        query.setValue("SELECT TOP 20 hip, hpmag FROM hipparcos.main ORDER BY hip");
        jdl.setQuery(query);
        jdl.setFormat(Serialization.TABLEDATA);
        W3CEndpointReference epr = factory.createJob(jdl, null);
        String[] addressAndId = JaxwsClient.readEpr(epr, wsa);
        String resourceId = addressAndId[1];
        JaxwsClient.emit("adqlCreate", "resource_id", resourceId, "address", addressAndId[0]);

        AdqlPortType job = service.getPort(epr, AdqlPortType.class, new AddressingFeature(true));
        JaxwsClient.WsaCheck.install(job, wsa, resourceId);
        String started = job.startJob().value();
        String phase;
        int polls = 0;
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (true) {
            phase = phase(job);
            polls++;
            if (JaxwsClient.FINAL_PHASES.contains(phase) || System.nanoTime() > deadline) {
                break;
            }
            Thread.sleep(150);
        }
        JaxwsClient.check("COMPLETED".equals(phase), "the ADQL job ended " + phase);
        JaxwsClient.emit("adqlRun", "started", started, "phase", phase, "polls", polls);

        Holder<BigInteger> rows = new Holder<>();
        Holder<ExposedRowsType> exposed = new Holder<>();
        job.exposeRows(BigInteger.valueOf(5), BigInteger.valueOf(10), rows, exposed);
        JaxwsClient.check(rows.value != null && exposed.value != null,
                          "exposeRowsResponse lacks rows or exposedRows");
        Object content = exposed.value.getAny();
        JaxwsClient.check(content instanceof Element, "exposedRows holds "
                          + (content == null ? "nothing" : "a " + content.getClass().getName()));
        Element votable = (Element) content;
        List<Long> values = new ArrayList<>();
        var trs = votable.getElementsByTagNameNS("*", "TR");
        for (int i = 0; i < trs.getLength(); i++) {
            Element td = JaxwsClient.children(trs.item(i), null, "TD").get(0);
            values.add(Long.parseLong(td.getTextContent().trim()));
        }
        JaxwsClient.check(values.size() == 5, "exposedRows holds " + values.size() + " TR, expected 5");
        JaxwsClient.emit("exposeRows", "rows", rows.value, "start", exposed.value.getStart(),
                         "end", exposed.value.getEnd(), "values", values,
                         "votable", JaxwsClient.clark(JaxwsClient.qname(votable)));

        job.destroy();
        JaxwsClient.emit("adqlDestroy");
    }
}
